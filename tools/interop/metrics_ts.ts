/**
 * The TypeScript half of the text-metrics check against sacreBLEU and rouge-score (not part of the
 * test suite). tools/interop/metrics_check.py writes a JSON file of jobs and runs
 *
 * ```sh
 * npx tsx tools/interop/metrics_ts.ts jobs.json results.json
 * ```
 *
 * Jobs: `{ "bleuCorpus": [{ "hyps": [...], "refs": [[...]], "opts": {...} }],
 * "bleuSentence": [{ "hyp": "...", "refs": [...], "opts": {...} }], "tokenize13a": ["..."],
 * "rougePairs": [{ "hyp": "...", "ref": "..." }], "rougeCorpus": [{ "hyps": [...], "refs": [...] }] }`;
 * every key is optional. Results: the same keys, one answer per job, in order.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { corpusBleu, sentenceBleu, tokenize13a, type BleuOptions, type BleuResult } from "../../src/metrics/bleu.js";
import { corpusRouge, sentenceRouge, type CorpusRouge, type RougeScores } from "../../src/metrics/rouge.js";

interface Jobs {
  bleuCorpus?: { hyps: string[]; refs: string[][]; opts?: BleuOptions }[];
  bleuSentence?: { hyp: string; refs: string[]; opts?: BleuOptions }[];
  tokenize13a?: string[];
  rougePairs?: { hyp: string; ref: string }[];
  rougeCorpus?: { hyps: string[]; refs: string[] }[];
}

interface Results {
  bleuCorpus: BleuResult[];
  bleuSentence: BleuResult[];
  tokenize13a: string[];
  rougePairs: RougeScores[];
  rougeCorpus: CorpusRouge[];
}

const [inPath, outPath] = process.argv.slice(2);
if (!inPath || !outPath) {
  console.error("usage: npx tsx tools/interop/metrics_ts.ts JOBS.json RESULTS.json");
  process.exit(2);
}
const jobs = JSON.parse(readFileSync(inPath, "utf8")) as Jobs;
const results: Results = {
  bleuCorpus: (jobs.bleuCorpus ?? []).map((j) => corpusBleu(j.hyps, j.refs, j.opts)),
  bleuSentence: (jobs.bleuSentence ?? []).map((j) => sentenceBleu(j.hyp, j.refs, j.opts)),
  tokenize13a: (jobs.tokenize13a ?? []).map((s) => tokenize13a(s)),
  rougePairs: (jobs.rougePairs ?? []).map((j) => sentenceRouge(j.hyp, j.ref)),
  rougeCorpus: (jobs.rougeCorpus ?? []).map((j) => corpusRouge(j.hyps, j.refs)),
};
writeFileSync(outPath, JSON.stringify(results));
