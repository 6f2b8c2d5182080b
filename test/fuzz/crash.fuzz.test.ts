/**
 * Crash safety of writes: a writer process killed with SIGKILL at random moments while saving a
 * checkpoint, a safetensors file and a text model directory leaves, at each path, the old file or
 * the new one, whole. Runs once (on the first backend's pass): writing involves no kernels.
 * QKV_FUZZ_KILLS sets the number of kill points (default 6).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadTextModelDir } from "../../src/apps/text/node-files.js";
import { loadSafetensors } from "../../src/io/safetensors-node.js";
import { loadCheckpoint } from "../../src/train/node/checkpoint.js";
import { firstPassOnly } from "../helpers.js";

const KILLS = Number(process.env.QKV_FUZZ_KILLS ?? 6);

/** Starts the writer, waits for "ready", kills it after `delayMs` and resolves when it is gone. */
function killWriter(dir: string, delayMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/fuzz/crash-writer.ts", dir], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) setTimeout(() => child.kill("SIGKILL"), delayMs);
    });
    child.on("exit", (code, signal) => (signal === "SIGKILL" ? resolve() : reject(new Error(`writer exited with ${code} before the kill`))));
  });
}

test("files survive SIGKILL at random points of a save: the old version or the new, whole", { skip: firstPassOnly() }, async () => {
  let seed = 12345;
  const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let k = 0; k < KILLS; k++) {
    const dir = mkdtempSync(join(tmpdir(), "qkv-crash-"));
    try {
      await killWriter(dir, rand() * 400);
      const ck = await loadCheckpoint(join(dir, "ckpt.safetensors"));
      assert.ok(ck.step === 1 || ck.step === 2, `step ${ck.step}`);
      assert.ok(ck.model["w"]!.data.every((x) => x === ck.step), "checkpoint tensor of its own version");
      const plain = await loadSafetensors(join(dir, "plain.safetensors"));
      const v = Number(plain.metadata["version"]);
      assert.ok(plain.tensors.get("w")!.data.every((x) => x === v), "safetensors tensor of its own version");
      const bundle = await loadTextModelDir(join(dir, "model"));
      assert.ok(bundle.info?.["version"] === 1 || bundle.info?.["version"] === 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
