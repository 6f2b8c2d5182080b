#!/usr/bin/env node
/* global console, process, performance, URL */
/**
 * transformers.js check of an exported translation model (not part of the test suite; qkv does
 * not depend on transformers.js). Loads the directory written by
 * `npx qkv export --format onnx --model <model dir> --out <dir>` with transformers.js's
 * AutoTokenizer and AutoModelForSeq2SeqLM (local files only, the CPU), generates greedily
 * (do_sample false, num_beams 1) for the first N sentences of a TSV's `en` column, and compares the
 * token ids with qkv's own greedy search on the model directory (src/seq2seq/search.ts with the
 * options of src/apps/text/generator.ts: start <s>, stop </s>, <pad> <s> <unk> never generated,
 * at most min(maxLen, 2 n + 10) tokens for an n-token source, passed to transformers.js as
 * max_new_tokens). Also compared: the source ids of the two tokenizers, transformers.js's batched
 * generation (the sentences padded into one batch: the attention masks), and the texts of
 * qkv's Translator (beam 1). Exits non-zero when any of these differ.
 *
 * With --beam K (K > 1) it also runs transformers.js with num_beams K and qkv's beam search
 * (beam K, length penalty 0.6) and reports how many outputs agree, without failing on them.
 *
 * Run from the repository root, after `npm run build`:
 *   mkdir -p /tmp/tjs && cd /tmp/tjs && npm init -y && npm install @huggingface/transformers
 *   npx qkv export --format onnx --model models/translate-en-es --out /tmp/translate-onnx
 *   node tools/interop/transformersjs_check.mjs --onnx /tmp/translate-onnx \
 *     [--tjs /tmp/tjs/node_modules] [--model models/translate-en-es] \
 *     [--data data/translation-en-es/test.tsv] [--n 20] [--beam 4]
 * The transformers.js install may also be given as TRANSFORMERSJS_NODE_MODULES.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values: a } = parseArgs({
  options: {
    tjs: { type: "string", default: process.env.TRANSFORMERSJS_NODE_MODULES ?? "/tmp/tjs/node_modules" },
    onnx: { type: "string" },
    model: { type: "string", default: "models/translate-en-es" },
    data: { type: "string", default: "data/translation-en-es/test.tsv" },
    n: { type: "string", default: "20" },
    beam: { type: "string", default: "1" },
  },
});
if (!a.onnx) {
  console.error("usage: node tools/interop/transformersjs_check.mjs --onnx <exported dir> [--tjs <node_modules>] [--model <qkv model dir>] [--data <tsv>] [--n 20] [--beam 4]");
  process.exit(2);
}
const N = Number(a.n), BEAM = Number(a.beam);
const pkgDir = join(resolve(a.tjs), "@huggingface", "transformers");
if (!existsSync(join(pkgDir, "package.json"))) {
  console.error(`no transformers.js at ${pkgDir} (install it: npm install @huggingface/transformers, outside this repository)`);
  process.exit(2);
}
const tjsVersion = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).version;
const tjs = await import(pathToFileURL(join(pkgDir, "dist", "transformers.node.mjs")).href);
const qkv = await import(new URL("../../dist/node.js", import.meta.url).href);

// the sentences: the `en` column's first N rows
const table = await qkv.readTsvFile(a.data, ["en"]);
const texts = table.rows.slice(0, N).map((r) => r.en);
if (texts.length === 0 || texts.some((t) => typeof t !== "string")) throw new Error(`no "en" sentences read from ${a.data}`);

// transformers.js: local files only; the export writes Optimum's flat layout (no onnx/ subfolder)
const { env, AutoTokenizer, AutoModelForSeq2SeqLM } = tjs;
env.allowRemoteModels = false;
env.allowLocalModels = true;
const onnxDir = resolve(a.onnx);
env.localModelPath = dirname(onnxDir) + "/";
const id = basename(onnxDir);
let t0 = performance.now();
const tokenizer = await AutoTokenizer.from_pretrained(id, { local_files_only: true });
const model = await AutoModelForSeq2SeqLM.from_pretrained(id, {
  local_files_only: true, subfolder: "", dtype: "fp32", device: "cpu",
  session_options: { intraOpNumThreads: 1, interOpNumThreads: 1 },
});
const tjsLoadS = (performance.now() - t0) / 1000;

// qkv: the model directory, searched as TextGenerator does it, one sentence at a time
const bundle = await qkv.loadTextModelDir(a.model);
const m = bundle.model.eval(), tok = bundle.tokenizer, maxLen = m.config.maxLen;
const banned = [tok.padId, tok.bosId, ...(tok.unkId >= 0 ? [tok.unkId] : [])];
const srcIds = texts.map((t) => tok.encode(t).slice(0, maxLen));
const caps = srcIds.map((ids) => Math.min(maxLen, 2 * ids.length + 10));
const qkvSearch = (k) => srcIds.map((ids, i) => {
  const src = new qkv.Tensor(Int32Array.from(ids), [1, ids.length], "int32");
  const o = { bosId: tok.bosId, eosId: tok.eosId, maxLen: caps[i], banned };
  return (k === 1 ? qkv.greedySearch(m, src, o) : qkv.beamSearch(m, src, { ...o, beam: k, lengthPenalty: 0.6 }))[0];
});
t0 = performance.now();
const qkvGreedy = qkvSearch(1);
const qkvGreedyS = (performance.now() - t0) / 1000;

// transformers.js output row -> generated ids without the start token, cut at the first </s> and at the cap
const generated = (row, cap) => {
  const ids = row.map(Number).slice(1);
  const end = ids.indexOf(tok.eosId);
  return (end >= 0 ? ids.slice(0, end) : ids).slice(0, cap);
};
const tjsGenerate = async (k) => {
  const out = [];
  for (const [i, text] of texts.entries()) {
    const enc = tokenizer(text);
    const seq = await model.generate({ ...enc, max_new_tokens: caps[i], do_sample: false, num_beams: k });
    out.push(generated(seq.tolist()[0], caps[i]));
  }
  return out;
};

const failures = [];
const same = (x, y) => x.length === y.length && x.every((v, j) => v === y[j]);
const report = (name, got, want, fail) => {
  const bad = got.map((g, i) => (same(g, want[i]) ? -1 : i)).filter((i) => i >= 0);
  console.log(`${bad.length === 0 ? "ok  " : fail ? "FAIL" : "diff"} ${name}: ${got.length - bad.length}/${got.length} identical`);
  for (const i of bad.slice(0, 5)) console.log(`     #${i}: ${JSON.stringify(got[i])}\n       vs ${JSON.stringify(want[i])}`);
  if (bad.length && fail) failures.push(name);
  return bad.length;
};

// 1. the tokenizers
const tjsSrc = texts.map((t) => tokenizer(t).input_ids.tolist()[0].map(Number));
report("source ids (transformers.js tokenizer vs qkv BpeTokenizer)", tjsSrc, srcIds, true);

// 2. greedy, one sentence at a time
t0 = performance.now();
const tjsGreedy = await tjsGenerate(1);
const tjsGreedyS = (performance.now() - t0) / 1000;
report("greedy token ids (transformers.js vs qkv greedySearch)", tjsGreedy, qkvGreedy, true);

// 3. greedy, all sentences padded into one batch (attention_mask / encoder_attention_mask zeros)
t0 = performance.now();
const batch = tokenizer(texts, { padding: true });
const seqs = (await model.generate({ ...batch, max_new_tokens: Math.max(...caps), do_sample: false, num_beams: 1 })).tolist();
const tjsBatchS = (performance.now() - t0) / 1000;
report(`greedy token ids, one padded batch of ${texts.length} (transformers.js vs qkv)`, seqs.map((r, i) => generated(r, caps[i])), qkvGreedy, true);

// 4. the texts of qkv's Translator (beam 1, its own batching) against transformers.js's decoded ids
const translator = new qkv.Translator(bundle);
const qkvTexts = translator.translate(texts, { beam: 1 });
const tjsTexts = tjsGreedy.map((ids) => tokenizer.decode(ids, { skip_special_tokens: true }).trim());
const textBad = qkvTexts.filter((t, i) => t !== tjsTexts[i]).length;
console.log(`${textBad ? "FAIL" : "ok  "} texts (qkv Translator.translate beam 1 vs transformers.js decode): ${texts.length - textBad}/${texts.length} identical`);
if (textBad) failures.push("texts");

// 5. beam search (reported only)
if (BEAM > 1) {
  t0 = performance.now();
  const tjsBeam = await tjsGenerate(BEAM);
  const tjsBeamS = (performance.now() - t0) / 1000;
  const qkvBeam = qkvSearch(BEAM);
  report(`num_beams ${BEAM}: transformers.js vs qkv beamSearch (beam ${BEAM}, length penalty 0.6)`, tjsBeam, qkvBeam, false);
  report(`num_beams ${BEAM}: transformers.js vs its own greedy`, tjsBeam, tjsGreedy, false);
  report(`qkv beam ${BEAM} vs qkv greedy`, qkvBeam, qkvGreedy, false);
  console.log(`     transformers.js num_beams ${BEAM}: ${tjsBeamS.toFixed(2)} s`);
}

const tokens = tjsGreedy.reduce((s, ids) => s + ids.length + 1, 0);
console.log(`\ntransformers.js ${tjsVersion}, ${texts.length} sentences from ${a.data}, ${tokens} greedy tokens (</s> included)`);
console.log(`time: transformers.js load ${tjsLoadS.toFixed(2)} s, greedy ${tjsGreedyS.toFixed(2)} s one by one, ${tjsBatchS.toFixed(2)} s batched; qkv greedy ${qkvGreedyS.toFixed(2)} s one by one`);
for (const [i, t] of texts.slice(0, 3).entries()) console.log(`  ${t}\n  -> ${tjsTexts[i]}`);
if (failures.length) {
  console.log(`FAIL: ${failures.join("; ")}`);
  process.exit(1);
}
console.log("PASS: transformers.js generates qkv's greedy tokens");
