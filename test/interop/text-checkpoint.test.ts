/**
 * A text model file written outside qkv (as tools/interop/text_models.py's save_text_model writes
 * PyTorch's state dict: float32, the "qkv.*" metadata kept) loads when its tensors fit, and is
 * refused with every mismatch named at once when they do not.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeTextModel, encodeTextModel } from "../../src/apps/text/model-file.js";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { FormatError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { BpeTokenizer } from "../../src/text/bpe.js";
import { assertThrowsMsg } from "../helpers.js";

const tokenizer = BpeTokenizer.train(["the cat sees the dog", "el gato ve el perro"], { vocabSize: 270 });
const model = new Seq2SeqTransformer({ vocabSize: tokenizer.vocabSize, dModel: 8, nhead: 2, encoderLayers: 1, decoderLayers: 1, dimFeedforward: 16, maxLen: 16, padId: tokenizer.padId },
  { generator: new Generator(1) });

/** The file as another writer would make it: the same metadata, float32 tensors changed by `edit`. */
function rewritten(edit: (t: Map<string, Tensor>) => void): Uint8Array {
  const { bytes } = encodeTextModel({ kind: "seq2seq", task: "translate", model, tokenizer });
  const { tensors, metadata } = decodeSafetensors(bytes);
  edit(tensors);
  return encodeSafetensors(tensors, metadata);
}

describe("text model files from other writers", () => {
  test("float32, any tensor order: loads with the weights as written", () => {
    const bytes = rewritten((t) => { t.get("decoder.norm.bias")!.data[3] = 0.25; });
    const back = decodeTextModel(bytes, tokenizer.toJSON(), "torch/model.safetensors");
    assert.equal(back.model.stateDict()["decoder.norm.bias"]!.data[3], 0.25);
  });

  test("names and shapes that do not fit: one FormatError naming every missing, unexpected and misshapen tensor", () => {
    const bytes = rewritten((t) => {
      t.set("encoder.layers.0.self_attn.in_proj_weight", new Tensor(new Float32Array(16 * 8), [16, 8], "float32"));
      t.set("decoder.layers.0.norm1.scale", t.get("decoder.layers.0.norm1.weight")!);
      t.delete("decoder.layers.0.norm1.weight");
      t.delete("encoder.norm.bias");
    });
    assertThrowsMsg(() => decodeTextModel(bytes, tokenizer.toJSON(), "torch/model.safetensors"), FormatError,
      "loadTextModel: torch/model.safetensors: weights expected the tensors of the model's config, got ",
      "missing keys: encoder.norm.bias, decoder.layers.0.norm1.weight",
      "unexpected keys: decoder.layers.0.norm1.scale",
      "encoder.layers.0.self_attn.in_proj_weight expected [24, 8], got [16, 8]");
  });
});
