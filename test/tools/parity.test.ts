/** The parity tool reports failures, checks the documented fully-masked behaviour, and prints one line per family. */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runFixtureDir } from "../../tools/parity/run.js";
import type { FxFile } from "../../tools/parity/fixture.js";

const fixtures = new URL("../fixtures/pytorch/", import.meta.url).pathname;

function tmpWith(files: Record<string, FxFile>): string {
  const dir = mkdtempSync(join(tmpdir(), "qkv-parity-"));
  for (const [n, f] of Object.entries(files)) writeFileSync(join(dir, n), JSON.stringify(f));
  return dir;
}

describe("parity tool", () => {
  test("every implemented family passes the independent fixture set (other shapes, heads, masks, options)", async () => {
    const dir = new URL("../fixtures/generated/", import.meta.url).pathname;
    const reports = await runFixtureDir(dir);
    assert.ok(reports.length >= 4);
    for (const r of reports) {
      if (r.skipped) continue;
      const failed = r.cases.filter((c) => !c.ok);
      assert.deepEqual(failed.map((c) => `${r.family}/${c.name}: ${c.problems.join("; ")}`), []);
    }
    for (const fam of ["sdpa", "dot_cosine", "mha", "basic", "transformer", "optim", "rope", "alibi", "gqa", "vision"]) {
      assert.ok(reports.some((r) => r.family === fam && !r.skipped && r.cases.length > 0), fam);
    }
  });
  test("a corrupted output or gradient is reported as a failed case", async () => {
    const fx = JSON.parse(readFileSync(join(fixtures, "sdpa.json"), "utf8")) as FxFile;
    const c0 = fx.cases[0]!, c1 = fx.cases[1]!;
    c0.outputs.output!.data[3] = Number(c0.outputs.output!.data[3]) + 0.01;
    c1.grads.k!.data[0] = Number(c1.grads.k!.data[0]) * 1.01 + 1e-3;
    const dir = tmpWith({ "sdpa.json": { ...fx, cases: [c0, c1, fx.cases[2]!] } });
    try {
      const [r] = await runFixtureDir(dir);
      assert.deepEqual(r!.cases.map((c) => c.ok), [false, false, true]);
      assert.match(r!.cases[0]!.problems.join(), /output output: 1\/\d+ entries off/);
      assert.match(r!.cases[1]!.problems.join(), /grad k: 1\/\d+ entries off/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
  test("an expected NaN row requires the documented zeros", async () => {
    const fx = JSON.parse(readFileSync(join(fixtures, "sdpa.json"), "utf8")) as FxFile;
    const nanCase = fx.cases.find((c) => c.outputs.output!.data.includes("NaN"));
    assert.ok(nanCase, "the shared set has a fully masked case");
    const dir = tmpWith({ "sdpa.json": { ...fx, cases: [nanCase] } });
    try {
      assert.equal((await runFixtureDir(dir))[0]!.cases[0]!.ok, true);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
  test("the CLI prints one line per family and totals, and exits non-zero on failure", () => {
    const fx = JSON.parse(readFileSync(join(fixtures, "basic.json"), "utf8")) as FxFile;
    const bad = structuredClone(fx.cases[0]!);
    bad.outputs.y!.data[0] = Number(bad.outputs.y!.data[0]) + 1;
    const dir = tmpWith({ "basic.json": { ...fx, cases: [fx.cases[0]!, bad] }, "zzz.json": { family: "unknown_family", cases: [] } });
    try {
      let out = "", code = 0;
      try {
        out = execFileSync(process.execPath, ["--import", "tsx", "tools/parity.ts", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
      } catch (e) {
        const err = e as { status: number; stdout: string };
        code = err.status;
        out = err.stdout;
      }
      assert.equal(code, 1);
      assert.deepEqual(out.trim().split("\n"), ["basic: 1 passed, 1 failed", "unknown_family: skipped (not implemented yet)", "1 passed, 1 failed"]);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
  test("--backend webgpu without a device says why and exits 1, running nothing", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "tools/parity.ts", fixtures, "--backend", "webgpu", "--webgpu", join(tmpdir(), "qkv-no-webgpu-here")], { encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^parity: no webgpu device \(nodeGpu: webgpu expected the optional webgpu package \(npm install webgpu\), got not installed \(.*qkv-no-webgpu-here not found\)\)$/m);
  });
});
