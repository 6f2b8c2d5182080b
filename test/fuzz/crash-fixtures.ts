/** The two versions of each file the crash-safety test writes and recognizes. */
import type { TextModelBundle } from "../../src/apps/text/model-file.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { full } from "../../src/tensor/tensor.js";
import { BpeTokenizer } from "../../src/text/bpe.js";
import type { TrainState } from "../../src/train/state.js";

export function crashFixtures(): { states: TrainState[]; bundles: TextModelBundle[] } {
  // checkpoints large enough (2 MiB) that a save spans many kill points
  const states = [1, 2].map((step): TrainState => ({
    step, model: { w: full([512, 1024], step) }, optimizer: { tensors: {}, paramGroups: [] }, rng: {}, losses: new Array<number>(step).fill(step), evals: [],
  }));
  const bundles = [1, 2].map((v): TextModelBundle => {
    manualSeed(v);
    const tokenizer = BpeTokenizer.train(v === 1 ? ["one two three", "four five"] : ["uno dos tres", "cuatro cinco"], { vocabSize: 270 });
    const model = new Seq2SeqTransformer({ vocabSize: tokenizer.vocabSize, dModel: 16, nhead: 2, encoderLayers: 1, decoderLayers: 1, dimFeedforward: 16, dropout: 0, maxLen: 16, padId: tokenizer.padId });
    return { kind: "seq2seq", task: "translate", model, tokenizer, info: { version: v } };
  });
  return { states, bundles };
}
