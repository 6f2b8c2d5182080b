import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadSafetensors, saveSafetensors } from "../../src/io/safetensors-node.js";
import { fit } from "../../src/train/fit.js";
import { checkpointWriter, latestCheckpoint, loadCheckpoint, saveCheckpoint } from "../../src/train/node/checkpoint.js";
import type { TrainState } from "../../src/train/state.js";
import { FormatError, ValueError } from "../../src/tensor/errors.js";
import { tensor } from "../../src/tensor/tensor.js";
import { drawBatch, setup } from "./helpers.js";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "qkv-ckpt-"));
  dirs.push(d);
  return d;
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const STEPS = 9;
async function train(opts: { initSeed?: number; dir?: string; resumeFrom?: TrainState; memory?: TrainState[] }) {
  const s = setup(opts.initSeed ?? 0, STEPS);
  const writer = opts.dir ? checkpointWriter(opts.dir, { keep: 2 }) : null;
  const result = await fit({
    model: s.model, optimizer: s.optimizer, scheduler: s.scheduler, trainStep: s.trainStep,
    batches: () => drawBatch(), steps: STEPS, seed: 3, generators: { dropout: s.dropGen },
    evalEvery: 3, evaluate: (step) => ({ step, nan: NaN }),
    checkpointEvery: 2,
    checkpoint: async (st) => {
      opts.memory?.push(st);
      await writer?.(st);
    },
    ...(opts.resumeFrom ? { resumeFrom: opts.resumeFrom } : {}),
  });
  return { ...s, result };
}

function sameState(a: TrainState, b: TrainState): void {
  assert.equal(a.step, b.step);
  assert.deepEqual(a.losses, b.losses);
  assert.deepEqual(a.evals, b.evals);
  assert.deepEqual(a.rng, b.rng);
  assert.deepEqual(a.scheduler, b.scheduler);
  assert.deepEqual(a.optimizer.paramGroups, b.optimizer.paramGroups);
  const tensors = (s: TrainState) => [...Object.entries(s.model), ...Object.entries(s.optimizer.tensors).map(([k, t]) => [`optim.${k}`, t] as const)]
    .map(([k, t]) => [k, t.dtype, t.shape.slice(), [...t.data]] as const).sort((x, y) => (x[0] < y[0] ? -1 : 1));
  assert.deepEqual(tensors(a), tensors(b));
}

describe("checkpoint files", () => {
  test("round trip through a file; resuming from it matches the uninterrupted run", async () => {
    const dir = await tempDir();
    const memory: TrainState[] = [];
    const full = await train({ dir, memory });
    assert.deepEqual((await readdir(dir)).sort(), ["step-00000006.safetensors", "step-00000008.safetensors"]); // keep: 2
    assert.equal(await latestCheckpoint(dir), join(dir, "step-00000008.safetensors"));
    const fromFile = await loadCheckpoint(join(dir, "step-00000006.safetensors"));
    sameState(fromFile, memory[2]!);
    assert.ok(Number.isNaN(fromFile.evals[0]!.metrics.nan));
    const { tensors, metadata } = await loadSafetensors(join(dir, "step-00000006.safetensors"));
    assert.equal(tensors.get("fc1.weight")?.dtype, "float32");
    assert.equal(tensors.get("optim.state.0.exp_avg")?.dtype, "float64");
    assert.equal(metadata["qkv.step"], "6");
    sameState(await loadCheckpoint(dir), memory[3]!); // a directory: its latest

    const resumed = await train({ initSeed: 42, resumeFrom: fromFile });
    assert.deepEqual(resumed.result.losses, full.result.losses);
    assert.deepEqual([...resumed.model.fc1.weight.data], [...full.model.fc1.weight.data]);
  });

  test("saveCheckpoint from live objects to a path", async () => {
    const dir = await tempDir();
    const s = setup(1, 4);
    const path = join(dir, "a.safetensors");
    assert.equal(await saveCheckpoint(path, { model: s.model, optimizer: s.optimizer, scheduler: s.scheduler, step: 0 }), path);
    const st = await loadCheckpoint(path);
    assert.equal(st.step, 0);
    assert.deepEqual(Object.keys(st.rng), ["default"]);
    assert.deepEqual(st.optimizer.tensors, {});
    assert.deepEqual([...st.model["fc2.bias"]!.data], [...s.model.fc2.bias!.data]);
  });

  test("bad files and names", async () => {
    const dir = await tempDir();
    const plain = join(dir, "plain.safetensors");
    await saveSafetensors(plain, { w: tensor([1]) });
    await assert.rejects(loadCheckpoint(plain), (e: unknown) => e instanceof FormatError && e.message.startsWith(`loadCheckpoint: metadata["qkv.format"] expected "checkpoint", got undefined`));
    const s = setup(1, 4);
    const st = (await fit({ model: s.model, optimizer: s.optimizer, trainStep: s.trainStep, batches: () => drawBatch(), steps: 1 })).state();
    const broken = join(dir, "broken.safetensors");
    await saveCheckpoint(broken, st);
    const { tensors, metadata } = await loadSafetensors(broken);
    await saveSafetensors(broken, tensors, { ...metadata, "qkv.losses": "[1, 2]" });
    await assert.rejects(loadCheckpoint(broken), (e: unknown) => e instanceof FormatError && e.message.startsWith(`loadCheckpoint: metadata["qkv.losses"] expected 1 numbers`));
    await assert.rejects(saveCheckpoint(join(dir, "x.safetensors"), { ...st, model: { "optim.w": tensor([1]) } }),
      (e: unknown) => e instanceof ValueError && e.message === `saveCheckpoint: model expected state-dict names not starting with "optim.", got optim.w`);
    await assert.rejects(loadCheckpoint(await tempDir()), FormatError);
    assert.equal(await latestCheckpoint(join(dir, "missing")), null);
  });
});
