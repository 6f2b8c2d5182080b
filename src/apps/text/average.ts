/**
 * Checkpoint averaging: the mean of the model weights of several checkpoints of one run (the
 * last few, typically), written as a model directory — a cheap ensemble that smooths the noise of
 * the last updates.
 *
 * ```ts
 * await averageCheckpointsInto("runs/summarize", ["runs/summarize/checkpoints/step-00000700.safetensors", "…750…"], "models/summarize-debian");
 * ```
 */
import { loadCheckpoint } from "../../train/node/checkpoint.js";
import { ValueError } from "../../tensor/errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { loadTextModelDir, saveTextModelDir } from "./node-files.js";

/** The element-wise mean of state dicts with the same names and shapes. */
export function averageStateDicts(states: readonly Record<string, Tensor>[]): Record<string, Tensor> {
  const op = "averageStateDicts";
  if (states.length === 0) throw new ValueError(op, "states", "at least one state dict", "none");
  const first = states[0]!;
  const out: Record<string, Tensor> = {};
  for (const [name, t0] of Object.entries(first)) {
    const sum = new Float64Array(t0.size);
    for (const [k, s] of states.entries()) {
      const t = s[name];
      if (!t || t.size !== t0.size) throw new ValueError(op, `states[${k}]["${name}"]`, `a tensor of ${t0.size} elements`, t ? `${t.size}` : "none");
      for (let i = 0; i < sum.length; i++) sum[i]! += Number(t.data[i]);
    }
    const mean = t0.dtype === "float64" ? new Float64Array(sum.length) : new Float32Array(sum.length);
    for (let i = 0; i < sum.length; i++) mean[i] = sum[i]! / states.length;
    out[name] = new Tensor(mean, t0.shape, t0.dtype === "float64" ? "float64" : "float32");
  }
  return out;
}

/**
 * Averages the checkpoints' weights into the model of run directory `runDir` (its kind, config
 * and tokenizer) and writes the model files to `outDir`.
 */
export async function averageCheckpointsInto(runDir: string, checkpoints: readonly string[], outDir: string): Promise<void> {
  if (checkpoints.length === 0) throw new ValueError("averageCheckpoints", "checkpoints", "at least one checkpoint file", "none");
  const bundle = await loadTextModelDir(runDir);
  const states = [];
  for (const c of checkpoints) states.push((await loadCheckpoint(c)).model);
  bundle.model.loadStateDict(averageStateDicts(states));
  const steps = states.length ? Math.max(...await Promise.all(checkpoints.map(async (c) => (await loadCheckpoint(c)).step))) : 0;
  await saveTextModelDir(outDir, { ...bundle, info: { ...(bundle.info ?? {}), averagedCheckpoints: checkpoints.length, steps: Math.max(steps, Number(bundle.info?.steps ?? 0)) } });
}
