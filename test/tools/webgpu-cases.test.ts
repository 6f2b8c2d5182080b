/** tools/webgpu-cases.ts without a device: it says why and exits 1, running nothing (with one: test/browser/webgpu-node.test.ts). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { firstPassOnly } from "../helpers.js";

describe("webgpu-cases tool", { skip: firstPassOnly() }, () => {
  test("without the webgpu package it says why and exits 1, running no family", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "tools/webgpu-cases.ts", "--webgpu", join(tmpdir(), "qkv-no-webgpu-here")], { encoding: "utf8" });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^webgpu-cases: no webgpu device \(nodeGpu: webgpu expected the optional webgpu package \(npm install webgpu\), got not installed \(.*qkv-no-webgpu-here not found\)\)$/m);
  });
});
