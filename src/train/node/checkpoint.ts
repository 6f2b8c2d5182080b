/**
 * Checkpoint files (Node): one safetensors file per checkpoint, written atomically. The model's
 * tensors are stored under their state-dict names, the optimizer's under "optim." + their names
 * ("optim.state.0.exp_avg", float64), and the rest as JSON strings in the safetensors metadata:
 * "qkv.format" ("checkpoint"), "qkv.version", "qkv.step", "qkv.optim.param_groups",
 * "qkv.scheduler" (when there is one), "qkv.rng", "qkv.losses", "qkv.evals".
 *
 * ```ts
 * const result = await fit({ ..., checkpointEvery: 500, checkpoint: checkpointWriter("runs/a", { keep: 3 }) });
 * // later, after a crash:
 * const last = await latestCheckpoint("runs/a");
 * await fit({ ..., resumeFrom: last ? await loadCheckpoint(last) : undefined });
 * ```
 */
import { mkdir, readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { fileError } from "../../io/files.js";
import { jsonDepthExceeded, MAX_JSON_DEPTH } from "../../io/json.js";
import { loadSafetensors, saveSafetensors } from "../../io/safetensors-node.js";
import { Module, type StateDict } from "../../nn/module.js";
import type { ParamGroupState } from "../../optim/optimizer.js";
import type { SchedulerState } from "../../optim/schedule.js";
import { FormatError, ValueError } from "../../tensor/errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { captureTrainState, type EvalRecord, type GeneratorState, type TrainParts, type TrainState } from "../state.js";

const OPTIM = "optim.";
const VERSION = "1";
const FILE_RE = /^step-(\d+)\.safetensors$/;

/** Live objects plus the step, as an alternative to a captured TrainState. */
export interface CheckpointParts extends TrainParts {
  step: number;
  losses?: readonly number[];
  evals?: readonly EvalRecord[];
}

/** Numbers as JSON, with non-finite values as the strings "NaN", "Infinity", "-Infinity". */
function numbersToJson(xs: readonly number[]): string {
  return JSON.stringify(xs.map(jsonNumber));
}

/** The inverse of numbersToJson for one value; null for anything else. */
function numberFrom(x: unknown): number | null {
  if (typeof x === "number") return x;
  if (x === "NaN" || x === "Infinity" || x === "-Infinity") return Number(x);
  return null;
}

/** Finite numbers stay numbers; others become their strings (JSON has no NaN or Infinity). */
const jsonNumber = (v: number): number | string => (Number.isFinite(v) ? v : String(v));

/** The file name a checkpoint after `step` updates gets in a directory. */
export function checkpointFileName(step: number): string {
  return `step-${String(step).padStart(8, "0")}.safetensors`;
}

/**
 * Writes a checkpoint to `target`: a `.safetensors` path, or a directory (created if needed) in
 * which the file is named after the step (`step-00000500.safetensors`). Returns the file's path.
 */
export async function saveCheckpoint(target: string, state: TrainState | CheckpointParts): Promise<string> {
  const op = "saveCheckpoint";
  const st: TrainState = state.model instanceof Module
    ? captureTrainState(state as CheckpointParts, state.step, { losses: (state as CheckpointParts).losses ?? [], evals: (state as CheckpointParts).evals ?? [] })
    : (state as TrainState);
  if (!Number.isInteger(st.step) || st.step < 0) throw new ValueError(op, "step", "an integer >= 0", String(st.step));
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of Object.entries(st.model)) {
    if (name.startsWith(OPTIM)) throw new ValueError(op, "model", `state-dict names not starting with "${OPTIM}"`, name);
    tensors.set(name, t);
  }
  for (const [name, t] of Object.entries(st.optimizer.tensors)) tensors.set(OPTIM + name, t);
  const metadata: Record<string, string> = {
    "qkv.format": "checkpoint",
    "qkv.version": VERSION,
    "qkv.step": String(st.step),
    "qkv.optim.param_groups": JSON.stringify(st.optimizer.paramGroups),
    "qkv.rng": JSON.stringify(st.rng),
    "qkv.losses": numbersToJson(st.losses),
    "qkv.evals": JSON.stringify(st.evals.map((e) => ({ step: e.step, metrics: Object.fromEntries(Object.entries(e.metrics).map(([k, v]) => [k, jsonNumber(v)])) }))),
  };
  if (st.scheduler) metadata["qkv.scheduler"] = JSON.stringify(st.scheduler);
  let path = target;
  if (!target.endsWith(".safetensors")) {
    await mkdir(target, { recursive: true });
    path = join(target, checkpointFileName(st.step));
  }
  await saveSafetensors(path, tensors, metadata);
  return path;
}

function parseJson(meta: Record<string, string>, key: string, path: string): unknown {
  const text = meta[key];
  if (text === undefined) throw new FormatError("loadCheckpoint", `metadata["${key}"]`, "present", `absent (file ${path})`);
  if (jsonDepthExceeded(text) >= 0) throw new FormatError("loadCheckpoint", `metadata["${key}"]`, `JSON nested at most ${MAX_JSON_DEPTH} deep`, `deeper nesting (file ${path})`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new FormatError("loadCheckpoint", `metadata["${key}"]`, "valid JSON", `${text.slice(0, 40)} (file ${path})`);
  }
}

function bad(key: string, expected: string, path: string): FormatError {
  return new FormatError("loadCheckpoint", `metadata["${key}"]`, expected, `something else (file ${path})`);
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/**
 * Reads a checkpoint written by saveCheckpoint (given a directory: its latest checkpoint).
 * Every metadata field is validated; a malformed file throws a FormatError naming the field.
 */
export async function loadCheckpoint(path: string): Promise<TrainState> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    throw fileError("loadCheckpoint", path, e);
  }
  if (isDir) {
    const latest = await latestCheckpoint(path);
    if (!latest) throw new FormatError("loadCheckpoint", "path", "a checkpoint file or a directory holding one", `a directory without checkpoints (${path})`);
    path = latest;
  }
  const { tensors, metadata } = await loadSafetensors(path);
  if (metadata["qkv.format"] !== "checkpoint") {
    throw new FormatError("loadCheckpoint", `metadata["qkv.format"]`, "\"checkpoint\"", `${JSON.stringify(metadata["qkv.format"])} (file ${path})`);
  }
  if (metadata["qkv.version"] !== VERSION) {
    throw new FormatError("loadCheckpoint", `metadata["qkv.version"]`, `"${VERSION}"`, `${JSON.stringify(metadata["qkv.version"])} (file ${path})`);
  }
  const step = Number(metadata["qkv.step"]);
  if (!Number.isInteger(step) || step < 0) throw bad("qkv.step", "an integer >= 0", path);

  const groups = parseJson(metadata, "qkv.optim.param_groups", path);
  if (!Array.isArray(groups) || !groups.every((g) => isRecord(g) && Array.isArray(g.params))) throw bad("qkv.optim.param_groups", "a list of groups with params", path);
  const rng = parseJson(metadata, "qkv.rng", path);
  if (!isRecord(rng) || !Object.values(rng).every((s) => isRecord(s) && ["k0", "k1", "offset"].every((k) => typeof s[k] === "number"))) {
    throw bad("qkv.rng", "generator states { k0, k1, offset } by name", path);
  }
  const lossesRaw = parseJson(metadata, "qkv.losses", path);
  const losses = Array.isArray(lossesRaw) ? lossesRaw.map(numberFrom) : [null];
  if (losses.length !== step || losses.some((x) => x === null)) throw bad("qkv.losses", `${step} numbers`, path);
  const evalsRaw = parseJson(metadata, "qkv.evals", path);
  const evals: EvalRecord[] = [];
  for (const e of Array.isArray(evalsRaw) ? evalsRaw : [null]) {
    const metrics: Record<string, number> = {};
    const ok = isRecord(e) && Number.isInteger(e.step) && isRecord(e.metrics) && Object.entries(e.metrics).every(([k, v]) => {
      const x = numberFrom(v);
      if (x !== null) metrics[k] = x;
      return x !== null;
    });
    if (!ok) throw bad("qkv.evals", "a list of { step, metrics }", path);
    evals.push({ step: Number(e.step), metrics });
  }
  let scheduler: SchedulerState | undefined;
  if (metadata["qkv.scheduler"] !== undefined) {
    const s = parseJson(metadata, "qkv.scheduler", path);
    if (!isRecord(s) || !Number.isInteger(s.step) || !Array.isArray(s.baseLrs) || !s.baseLrs.every((x) => typeof x === "number")) {
      throw bad("qkv.scheduler", "{ step, baseLrs }", path);
    }
    scheduler = { step: Number(s.step), baseLrs: s.baseLrs as number[] };
  }

  const model: StateDict = {};
  const optimTensors: Record<string, Tensor> = {};
  for (const [name, t] of tensors) {
    if (name.startsWith(OPTIM)) optimTensors[name.slice(OPTIM.length)] = t;
    else model[name] = t;
  }
  const state: TrainState = {
    step,
    model,
    optimizer: { tensors: optimTensors, paramGroups: groups as ParamGroupState[] },
    rng: rng as Record<string, GeneratorState>,
    losses: losses.filter((x): x is number => x !== null),
    evals,
  };
  if (scheduler) state.scheduler = scheduler;
  return state;
}

/** The path of the checkpoint with the highest step in `dir` (names from checkpointFileName), or null. */
export async function latestCheckpoint(dir: string): Promise<string | null> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (typeof e === "object" && e !== null && "code" in e && e.code === "ENOENT") return null;
    throw e;
  }
  let best: { step: number; name: string } | null = null;
  for (const name of names) {
    const m = FILE_RE.exec(name);
    if (m && (!best || Number(m[1]) > best.step)) best = { step: Number(m[1]), name };
  }
  return best ? join(dir, best.name) : null;
}

/**
 * A `checkpoint` callback for fit that writes each state into `dir` and, with `keep`, deletes all
 * but the newest `keep` checkpoint files there.
 */
export function checkpointWriter(dir: string, opts: { keep?: number } = {}): (state: TrainState) => Promise<void> {
  const keep = opts.keep;
  if (keep !== undefined && !(Number.isInteger(keep) && keep >= 1)) throw new ValueError("checkpointWriter", "keep", "an integer >= 1", String(keep));
  return async (state) => {
    await saveCheckpoint(dir, state);
    if (keep === undefined) return;
    const files = (await readdir(dir)).map((n) => ({ n, m: FILE_RE.exec(n) })).filter((f) => f.m).sort((a, b) => Number(b.m![1]) - Number(a.m![1]));
    for (const f of files.slice(keep)) await unlink(join(dir, f.n));
  };
}
