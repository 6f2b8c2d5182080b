/**
 * Every file loader under hostile input (test/fuzz/loaders.ts), with a fixed seed and a small
 * budget, in a child process whose heap is capped: only FormatErrors naming the file and the
 * field, correct results otherwise, no case over 5 s, and a peak resident memory under the
 * ceiling. QKV_FUZZ_RUNS scales the budget (default 25 runs per target).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { describeFindings, runFuzzChild } from "./run-child.js";

const RUNS = Number(process.env.QKV_FUZZ_RUNS ?? 25);
/** Peak resident memory allowed to the child (the runtime, the seeds and every input together). */
const CEILING_MIB = 400;

test("file loaders: hostile files give typed errors within the memory ceiling", async () => {
  const r = await runFuzzChild(["loaders", "--seed", "20240601", "--runs", String(RUNS), "--backend", process.env.QKV_BACKEND ?? "js"],
    { heapMiB: 256, timeoutMs: 120_000 });
  assert.ok(r.report, describeFindings(r));
  assert.equal(r.report.findings.length, 0, describeFindings(r));
  assert.ok(r.report.tried >= RUNS * 10, `only ${r.report.tried} inputs tried`);
  assert.ok(r.report.peakRssMiB <= CEILING_MIB, `peak memory ${r.report.peakRssMiB} MiB over the ${CEILING_MIB} MiB ceiling`);
});
