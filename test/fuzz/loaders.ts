/**
 * Fuzz targets for every file loader: safetensors (bytes and files), checkpoints, tokenizer.json
 * (text and files), TSV (text and files), text-model directories, and those of app-loaders.ts
 * (PNG images, IDX image sets, classifier models, graph datasets) and hf-loaders.ts (Hugging Face
 * ViT and BERT imports). Each hostile input must give
 * a FormatError that names the field (and the file, for the file loaders), or a correct result;
 * nothing else may escape, and no input may take longer than the harness's case limit.
 *
 * ```ts
 * const report = await runTargets(await loaderTargets(tmpDir), { seed: 1, runs: 40 });
 * ```
 */
import fc from "fast-check";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeTextModel, encodeTextModel } from "../../src/apps/text/model-file.js";
import { loadTextModelDir, readTsvFile } from "../../src/apps/text/node-files.js";
import { parseTsv } from "../../src/data/tsv.js";
import { loadHfBertDir, loadHfViTDir } from "../../src/interop/hf-node.js";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.js";
import { loadSafetensors, loadSafetensorsHeader } from "../../src/io/safetensors-node.js";
import { Linear } from "../../src/nn/layers.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { AdamW } from "../../src/optim/adam.js";
import { FormatError, ValueError } from "../../src/tensor/errors.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { full, tensor, type Tensor } from "../../src/tensor/tensor.js";
import { BpeTokenizer } from "../../src/text/bpe.js";
import { loadTokenizer } from "../../src/text/node.js";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/node/checkpoint.js";
import { appFileLoaders, appLoaderTargets } from "./app-loaders.js";
import { expectTyped, Finding, target, type FuzzTarget } from "./harness.js";
import { hfLoaderTargets } from "./hf-loaders.js";
import { mutatedBytes, mutatedJson, structuredSafetensors } from "./hostile.js";

const FORMAT = [FormatError] as const;
const utf8 = new TextEncoder();

/** A decoded file must hold what its header promised. */
function checkDecoded(tensors: Map<string, Tensor>): void {
  for (const [name, t] of tensors) {
    if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Finding(`tensor ${name}: ${t.data.length} values for shape [${t.shape}]`);
  }
}

/** The valid files the mutations start from. */
export async function loaderSeeds(dir: string) {
  manualSeed(11);
  const st = encodeSafetensors(
    { a: tensor([[1, 2, 3], [4, 5, 6]]), b: tensor([1, -2, 3, 4], { dtype: "int32" }), c: tensor([true, false, true], { dtype: "bool" }),
      d: tensor([[0.5]], { dtype: "float64" }), e: full([0, 5], 0) },
    { step: "3", note: "é" },
  );
  const lin = new Linear(3, 2);
  const opt = new AdamW(lin.parameters(), { lr: 1e-3 });
  const ckPath = await saveCheckpoint(join(dir, "seed-ckpt.safetensors"), { model: lin, optimizer: opt, step: 0 });
  const { readFile } = await import("node:fs/promises");
  const checkpoint = new Uint8Array(await readFile(ckPath));
  const ckMeta = decodeSafetensors(checkpoint);
  const tok = BpeTokenizer.train(["the cat sat on the mat", "el gato se sentó", "a b c d e f g"], { vocabSize: 280 });
  const tokText = tok.toJSON();
  const model = new Seq2SeqTransformer({ vocabSize: tok.vocabSize, dModel: 8, nhead: 2, encoderLayers: 1, decoderLayers: 1, dimFeedforward: 8, dropout: 0, maxLen: 16, padId: tok.padId });
  const { bytes: modelBytes } = encodeTextModel({ kind: "seq2seq", task: "translate", model, tokenizer: tok });
  const modelMeta = decodeSafetensors(modelBytes);
  return { st, checkpoint, ckMeta, tokText, modelBytes, modelMeta };
}

/** A metadata value of a safetensors file replaced by a mutation of its JSON text. */
function mutatedMetadata(file: { tensors: Map<string, Tensor>; metadata: Record<string, string> }, keys: readonly string[]): fc.Arbitrary<Uint8Array> {
  return fc.constantFrom(...keys).chain((key) => {
    const raw = file.metadata[key]!;
    let doc: unknown;
    try { doc = JSON.parse(raw); } catch { doc = raw; }
    return fc.oneof(mutatedJson(doc), fc.string({ maxLength: 8 })).map((text) => encodeSafetensors(file.tensors, { ...file.metadata, [key]: text }));
  });
}

let fileNo = 0;
function writeTemp(dir: string, bytes: Uint8Array | string, ext: string): string {
  const p = join(dir, `f${fileNo++ % 64}${ext}`);
  writeFileSync(p, bytes);
  return p;
}

/** Paths that are not readable files: missing, a directory, empty, with a NUL byte, too long. */
function badPaths(dir: string, ext: string): fc.Arbitrary<string> {
  mkdirSync(join(dir, `adir${ext}`), { recursive: true });
  return fc.constantFrom(join(dir, `missing${ext}`), join(dir, `adir${ext}`), join(dir, "nodir", `x${ext}`), `${join(dir, "nul")}\u0000${ext}`, join(dir, `${"n".repeat(300)}${ext}`));
}

/** Every loader's fuzz targets; temporary files go to `dir`. */
export async function loaderTargets(dir: string): Promise<FuzzTarget[]> {
  const s = await loaderSeeds(dir);
  const stBytes = fc.oneof(mutatedBytes(s.st), structuredSafetensors);
  const targets: FuzzTarget[] = [];
  const add = <T>(t: FuzzTarget<T>): void => { targets.push(target(t)); };

  add({
    name: "decodeSafetensors",
    arbitrary: stBytes,
    weight: 3,
    check: async (bytes) => {
      await expectTyped(() => checkDecoded(decodeSafetensors(bytes).tensors), { allowed: FORMAT });
    },
  });
  add({
    name: "loadSafetensors / loadSafetensorsHeader",
    arbitrary: stBytes,
    weight: 2,
    check: async (bytes) => {
      const p = writeTemp(dir, bytes, ".safetensors");
      const r = await expectTyped(async () => checkDecoded((await loadSafetensors(p)).tensors), { allowed: FORMAT, mustName: [p] });
      const h = await expectTyped(() => loadSafetensorsHeader(p), { allowed: FORMAT, mustName: [p] });
      if ((r === "ok") !== (h === "ok") && !(r !== "ok" && r.expected.includes("I64 values"))) throw new Finding(`header ${h === "ok" ? "loads" : "fails"} but file ${r === "ok" ? "loads" : "fails"}`);
    },
  });
  add({
    name: "loadCheckpoint",
    arbitrary: fc.oneof(mutatedBytes(s.checkpoint),
      mutatedMetadata(s.ckMeta, ["qkv.step", "qkv.optim.param_groups", "qkv.rng", "qkv.losses", "qkv.evals", "qkv.format", "qkv.version"])),
    weight: 2,
    check: async (bytes) => {
      const p = writeTemp(dir, bytes, ".safetensors");
      await expectTyped(() => loadCheckpoint(p), { allowed: FORMAT, mustName: [p] });
    },
  });
  add({
    name: "BpeTokenizer.fromJSON",
    arbitrary: fc.oneof(mutatedJson(JSON.parse(s.tokText)), fc.string({ maxLength: 40 })),
    weight: 2,
    check: async (text) => {
      let tok: BpeTokenizer | undefined;
      await expectTyped(() => { tok = BpeTokenizer.fromJSON(text, "fuzz/tokenizer.json"); }, { allowed: FORMAT, mustName: ["fuzz/tokenizer.json"] });
      if (tok) {
        // a tokenizer that loads must work
        const ids = tok.encode("the cat, el gato <s> é\u{1F600}");
        if (ids.some((i) => !Number.isInteger(i) || i < 0 || i >= tok!.vocabSize)) throw new Finding(`encode gave ids outside the vocabulary: ${ids}`);
        tok.decode(ids);
      }
    },
  });
  add({
    name: "loadTokenizer",
    arbitrary: fc.oneof(mutatedBytes(utf8.encode(s.tokText)), mutatedJson(JSON.parse(s.tokText)).map((t) => utf8.encode(t))),
    check: async (bytes) => {
      const p = writeTemp(dir, bytes, ".json");
      await expectTyped(() => loadTokenizer(p), { allowed: FORMAT, mustName: [p] });
    },
  });
  const tsvText = fc.array(fc.array(fc.oneof(fc.constantFrom("en", "es", "", " ", "\r", "\uFEFF"), fc.string({ maxLength: 5 })), { maxLength: 4 }).map((f) => f.join("\t")), { maxLength: 6 })
    .map((lines) => lines.join("\n"));
  const columns = fc.oneof(fc.constant(["en", "es"]), fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }));
  add({
    name: "parseTsv",
    arbitrary: fc.tuple(fc.oneof(tsvText.map((t) => `en\tes\n${t}`), tsvText), columns, fc.boolean()),
    check: async ([text, cols, skipEmpty]) => {
      const r = await expectTyped(() => {
        const t = parseTsv(text, { columns: cols, source: "fuzz.tsv", skipEmpty });
        for (const row of t.rows) for (const c of cols) if (typeof row[c] !== "string" || (!skipEmpty && row[c] === "")) throw new Finding(`row without ${c}`);
      }, { allowed: [FormatError, ValueError] });
      if (r !== "ok" && r instanceof FormatError && !r.message.includes("fuzz.tsv")) throw new Finding(`error does not name the source: ${r.message}`);
    },
  });
  add({
    name: "readTsvFile",
    arbitrary: fc.oneof(tsvText.map((t) => utf8.encode(`en\tes\n${t}`)), fc.uint8Array({ maxLength: 64 })),
    check: async (bytes) => {
      const p = writeTemp(dir, bytes, ".tsv");
      await expectTyped(() => readTsvFile(p, ["en", "es"]), { allowed: FORMAT, mustName: [p] });
    },
  });
  add({
    name: "decodeTextModel",
    arbitrary: fc.tuple(
      fc.oneof(mutatedBytes(s.modelBytes), mutatedMetadata(s.modelMeta, ["qkv.config", "qkv.info", "qkv.kind", "qkv.tokenizer"]), fc.constant(s.modelBytes)),
      fc.oneof({ arbitrary: fc.constant(s.tokText), weight: 3 }, mutatedJson(JSON.parse(s.tokText))),
    ),
    weight: 2,
    check: async ([bytes, tokText]) => {
      await expectTyped(() => decodeTextModel(bytes, tokText, "fuzz/model"), { allowed: FORMAT, mustName: ["fuzz/"] });
    },
  });
  add({
    name: "loadTextModelDir",
    arbitrary: fc.tuple(fc.oneof(mutatedBytes(s.modelBytes), mutatedMetadata(s.modelMeta, ["qkv.config"])), fc.boolean()),
    check: async ([bytes, goodTok]) => {
      const d = join(dir, `model${fileNo++ % 8}`);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, "model.safetensors"), bytes);
      writeFileSync(join(d, "tokenizer.json"), goodTok ? s.tokText : bytes);
      await expectTyped(() => loadTextModelDir(d), { allowed: FORMAT, mustName: [d] });
    },
  });
  add({
    name: "file loaders on paths that are not files",
    arbitrary: fc.tuple(fc.constantFrom("loadSafetensors", "loadSafetensorsHeader", "loadCheckpoint", "loadTokenizer", "readTsvFile", "loadTextModelDir",
      ...Object.keys(appFileLoaders), "loadHfViTDir", "loadHfBertDir"), badPaths(dir, ".safetensors")),
    weight: 0.5,
    check: async ([fn, p]) => {
      const run: Record<string, () => Promise<unknown>> = {
        loadSafetensors: () => loadSafetensors(p), loadSafetensorsHeader: () => loadSafetensorsHeader(p), loadCheckpoint: () => loadCheckpoint(p),
        loadTokenizer: () => loadTokenizer(p), readTsvFile: () => readTsvFile(p, ["en"]), loadTextModelDir: () => loadTextModelDir(p),
        loadHfViTDir: () => loadHfViTDir(p), loadHfBertDir: () => loadHfBertDir(p),
        ...Object.fromEntries(Object.entries(appFileLoaders).map(([k, f]) => [k, () => f(p)])),
      };
      const shown = p.split("\u0000")[0]!;
      await expectTyped(run[fn]!, { allowed: [FormatError, ValueError], mustName: [shown.slice(0, 40)] });
    },
  });
  targets.push(...appLoaderTargets(dir), ...hfLoaderTargets(dir));
  return targets;
}
