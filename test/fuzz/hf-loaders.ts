/**
 * Fuzz targets for the Hugging Face imports: a ViT or BERT config.json (mutated JSON: wrong types,
 * huge sizes, deep nesting, removed keys, cut text) with the tensors of its checkpoint (removed,
 * renamed, reshaped or of another dtype), in memory (loadHfViT, loadHfBert: HfConfigError or
 * StateDictError) and as a directory (loadHfViTDir, loadHfBertDir: FormatError naming the file).
 *
 * ```ts
 * const report = await runTargets(hfLoaderTargets(tmpDir), { seed: 1, runs: 40 });
 * ```
 */
import fc from "fast-check";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HfConfigError, hfBertNameMap, loadHfBert, parseHfBertConfig } from "../../src/interop/hf.js";
import { loadHfBertDir, loadHfViTDir } from "../../src/interop/hf-node.js";
import { hfViTNameMap, loadHfViT, parseHfViTConfig } from "../../src/interop/hf-vit.js";
import { encodeSafetensors } from "../../src/io/safetensors.js";
import { FormatError, StateDictError } from "../../src/tensor/errors.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { expectTyped, target, type FuzzTarget } from "./harness.js";
import { mutatedBytes, mutatedJson } from "./hostile.js";

const VIT_CONFIG = {
  architectures: ["ViTForImageClassification"], model_type: "vit", hidden_size: 4, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 8,
  hidden_act: "gelu", hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, layer_norm_eps: 1e-12, image_size: [4, 6], patch_size: 2, num_channels: 1,
  qkv_bias: true, id2label: { 0: "a", 1: "b", 2: "c" }, label2id: { a: 0, b: 1, c: 2 },
};
const BERT_CONFIG = {
  architectures: ["BertModel"], model_type: "bert", vocab_size: 7, hidden_size: 4, num_hidden_layers: 1, num_attention_heads: 2,
  intermediate_size: 6, max_position_embeddings: 5, type_vocab_size: 2, hidden_act: "gelu", layer_norm_eps: 1e-12, pad_token_id: 0,
};

type NameMap = { hf: string; shape: number[] }[];

function tensorsOf(map: NameMap, prefix: (hf: string) => string): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  map.forEach((r, k) => {
    const n = r.shape.reduce((a, b) => a * b, 1);
    m.set(prefix(r.hf), new Tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(k * 1000 + i)), r.shape, "float32"));
  });
  return m;
}

/** One edit of a checkpoint's tensors: a tensor removed, renamed, reshaped, of another dtype, or one added. */
type TensorEdit = { kind: "delete" | "rename" | "reshape" | "dtype" | "add"; at: number; shape: number[]; name: string };
const tensorEdit: fc.Arbitrary<TensorEdit> = fc.record({
  kind: fc.constantFrom("delete", "rename", "reshape", "dtype", "add"),
  at: fc.nat(),
  shape: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 4 }),
  name: fc.oneof(fc.constantFrom("encoder.layer.7.output.dense.weight", "vit.pooler.dense.bias", "classifier.weight", "bert.x", "cls.predictions.bias", "embeddings.position_ids"),
    fc.string({ minLength: 1, maxLength: 12 })),
});

function applyTensorEdits(seed: Map<string, Tensor>, edits: readonly TensorEdit[]): Map<string, Tensor> {
  const m = new Map(seed);
  for (const e of edits) {
    const names = [...m.keys()];
    const name = names[e.at % Math.max(1, names.length)];
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (e.kind === "add") m.set(e.name, new Tensor(new Float32Array(n), e.shape, "float32"));
    if (name === undefined) continue;
    const t = m.get(name)!;
    if (e.kind === "delete") m.delete(name);
    else if (e.kind === "rename") { m.delete(name); m.set(e.name, t); }
    else if (e.kind === "reshape") m.set(name, new Tensor(new Float32Array(n), e.shape, "float32"));
    else if (e.kind === "dtype") m.set(name, new Tensor(new Int32Array(t.data.length), t.shape.slice(), "int32"));
  }
  return m;
}

let dirNo = 0;

/** The Hugging Face import targets; temporary directories go under `dir`. */
export function hfLoaderTargets(dir: string): FuzzTarget[] {
  const targets: FuzzTarget[] = [];
  const add = <T>(t: FuzzTarget<T>): void => { targets.push(target(t)); };
  const models = [
    { name: "ViT", config: VIT_CONFIG, load: loadHfViT, loadDir: loadHfViTDir,
      tensors: tensorsOf(hfViTNameMap(parseHfViTConfig(VIT_CONFIG)), (hf) => (hf.startsWith("classifier.") ? hf : `vit.${hf}`)) },
    { name: "BERT", config: BERT_CONFIG, load: loadHfBert, loadDir: loadHfBertDir, tensors: tensorsOf(hfBertNameMap(parseHfBertConfig(BERT_CONFIG)), (hf) => hf) },
  ];
  for (const m of models) {
    const input = fc.record({
      config: fc.oneof({ arbitrary: mutatedJson(m.config), weight: 4 }, fc.constant(JSON.stringify(m.config)), fc.string({ maxLength: 16 })),
      edits: fc.oneof({ arbitrary: fc.constant([] as TensorEdit[]), weight: 3 }, fc.array(tensorEdit, { minLength: 1, maxLength: 3 })),
      strict: fc.boolean(),
    });
    add({
      name: `loadHf${m.name}`,
      arbitrary: input,
      weight: 2,
      check: async ({ config, edits, strict }) => {
        await expectTyped(() => m.load(config, applyTensorEdits(m.tensors, edits), { strict }), { allowed: [HfConfigError, StateDictError] });
      },
    });
    add({
      name: `loadHf${m.name}Dir`,
      arbitrary: fc.record({
        config: input.map((i) => i.config),
        weights: fc.oneof(input.map((i) => encodeSafetensors(applyTensorEdits(m.tensors, i.edits))), mutatedBytes(encodeSafetensors(m.tensors))),
        missing: fc.constantFrom(null, null, null, null, "config.json", "model.safetensors"),
      }),
      check: async ({ config, weights, missing }) => {
        const d = join(dir, `hf${m.name}${dirNo++ % 8}`);
        rmSync(d, { recursive: true, force: true });
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, "config.json"), config);
        writeFileSync(join(d, "model.safetensors"), weights);
        const probe = missing ? join(d, "sub") : d;
        if (missing) {
          mkdirSync(probe, { recursive: true });
          writeFileSync(join(probe, missing === "config.json" ? "model.safetensors" : "config.json"), missing === "config.json" ? weights : config);
        }
        await expectTyped(() => m.loadDir(probe), { allowed: [FormatError], mustName: [probe] });
      },
    });
  }
  return targets;
}
