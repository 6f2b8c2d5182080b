/**
 * Public ops and modules under random shapes, dtypes, values and options (test/fuzz/ops.ts), one
 * child process per backend that loads here, so a crash of the native addon fails the test
 * instead of the runner. Runs once, on the first backend's pass, covering every backend.
 * QKV_FUZZ_RUNS scales the budget (default 25 runs per target).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { availableBackends } from "../../src/backend/registry.js";
import { describeFindings, runFuzzChild } from "./run-child.js";
import { firstPassOnly } from "../helpers.js";

const RUNS = Number(process.env.QKV_FUZZ_RUNS ?? 25);
const backends = availableBackends();

for (const b of backends) {
  test(`ops and modules on the ${b} backend: typed errors or correct results, no crash`, { skip: firstPassOnly() }, async () => {
    const r = await runFuzzChild(["ops", "--seed", "20240602", "--runs", String(RUNS), "--backend", b], { timeoutMs: 120_000 });
    assert.equal(r.signal, null, describeFindings(r));
    assert.ok(r.report, describeFindings(r));
    assert.equal(r.report.findings.length, 0, describeFindings(r));
    assert.ok(r.report.tried >= RUNS * 7, `only ${r.report.tried} inputs tried`);
  });
}
