/**
 * The page of test/browser/webgpu-train.test.ts (bundled by esbuild, opened in headless Chromium on
 * SwiftShader): trains one small transformer block (token embedding with a padding index, a
 * positional input, layer norm, q / k / v projections, fused causal attention, output projection,
 * an nn.MultiheadAttention whose packed in-projection is sliced, a GELU MLP, residuals, mean
 * pooling, a classifier, cross entropy, AdamW) for a few steps on the js backend and, from the
 * same seeded initialization, on the webgpu backend with its parameters moved to the device;
 * returns both loss curves (with `attnDropout`, the fused attention drops its weights, seeded alike on
 * both backends: js's fused kernel and the WGSL one draw the same mask). `trainCnn` does the same for a small CNN (convolutions with groups,
 * stride, dilation and padding, batch norm with its running statistics, max / average / adaptive
 * pooling) under SGD with momentum (also with the convolutions' weight gradients split over K). Also checks the device-tensor contract: `t.data` throws
 * DeviceSyncError until `await t.read()`; `readBatched` reads a trained model's state with readAll
 * (one submission) and one read() per tensor; `train` reports what freeGraph gives back each step;
 * `deviceIndices` runs embedding and indexSelect by argmax's indices on webgpu (forward and
 * backward with no submission, js's bits) and one index out of range (the next read's ValueError).
 */
import { linearAttention } from "../../src/attention/linear.js";
import { PerformerFeatures, performerAttention } from "../../src/attention/performer.js";
import { scaledDotProductAttention } from "../../src/attention/sdpa.js";
import { windowAttention } from "../../src/attention/window.js";
import { backward } from "../../src/autograd/backward.js";
import { freeGraph } from "../../src/autograd/free-graph.js";
import type { AnyBackend } from "../../src/backend/backend.js";
import { setBackend } from "../../src/backend/registry.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import { forceConvSplitK } from "../../src/backend/webgpu/conv.js";
import type { WebGPUBackend } from "../../src/backend/webgpu/backend.js";
import { useWebGPU } from "../../src/backend/webgpu/use.js";
import { MultiheadAttention } from "../../src/nn/multihead-attention.js";
import { add, gelu, gt, mul } from "../../src/ops/elementwise.js";
import { crossEntropy, embedding } from "../../src/ops/functional.js";
import { linear } from "../../src/ops/matmul.js";
import { layerNorm } from "../../src/ops/norm.js";
import { argmax, mean, sum } from "../../src/ops/reduce.js";
import { indexSelect, permute, reshape } from "../../src/ops/shape.js";
import { Adam, AdamW } from "../../src/optim/adam.js";
import { clipCoefficientTensor, clipGradNorm, clipGradNormTensor } from "../../src/optim/clip.js";
import { useFusedOptimizerSteps } from "../../src/optim/device-step.js";
import type { Optimizer } from "../../src/optim/optimizer.js";
import { LRScheduler, warmupCosine } from "../../src/optim/schedule.js";
import { SGD } from "../../src/optim/sgd.js";
import type { DeviceArray } from "../../src/tensor/device.js";
import { DeviceSyncError } from "../../src/tensor/errors.js";
import { readAll } from "../../src/tensor/read-all.js";
import { fit } from "../../src/train/fit.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, ones, randint, randn, tensor, zeros } from "../../src/tensor/tensor.js";
import { SmallCnn, trainSteps } from "../backend/device-models.js";

/** Sizes of the block: batch B, sequence L, width E, H heads, C classes. */
const SIZES = { B: 4, L: 8, E: 16, H: 2, C: 5, V: 11 } as const;

export interface TrainResult {
  js: number[]; webgpu: number[]; backend: string; submissions: number; sizes: typeof SIZES;
  /** Bytes of device buffers the pool holds after each webgpu step. */
  poolBytes: number[];
  /** Bytes of new device buffers each webgpu step's forward pass made (the rest came from the pool). */
  forwardBytes: number[];
  /** Bytes freeGraph gave back after each webgpu step. */
  freedBytes: number[];
}
export interface SyncResult {
  threw: string; op: string; message: string; read: number[]; afterRead: number[]; hostRead: boolean;
  /** A stale second release of an array, after its buffer went to a new array, leaves that array's buffer out of the pool. */
  secondReleaseIgnored: boolean;
}

/** One optimizer setting run on webgpu with its fused kernels and with the composed update. */
export interface OptimResult {
  name: string;
  /** Largest |fused - composed| over the parameters after 3 steps, in units of the composed value's float32 spacing. */
  maxUlps: number;
  /** Largest |fused - js| (the host update, float64 inside) over the parameters, relative to 1 + |js|. */
  maxRelToHost: number;
  /** Kernel dispatches of the last step (three parameters): fused, composed. */
  dispatches: [number, number];
  /** The fused dispatches the last step should take: the three parameters in as few as the device binds. */
  fusedWant: number;
  /** Largest |gradScale run - clipped-in-place run| (both fused, gradients clipped to norm 1), in ulps. */
  scaledUlps: number;
  /** The gradScale run's dispatches of the last step, and what they should be (the scale binds one more array). */
  scaledDispatches: number;
  scaledWant: number;
}

export interface CnnResult {
  js: number[]; webgpu: number[];
  /** The batch norm's running mean and variance after the steps, on each backend. */
  running: { js: number[]; webgpu: number[] };
  /** The eval-mode logits after the steps (running statistics), on each backend. */
  evalLogits: { js: number[]; webgpu: number[] };
}

/** fit() on each backend: the per-step losses and clipped gradient norms, the evaluations, and a checkpoint's first value. */
export interface FitRun { losses: number[]; gradNorms: number[]; evals: number[]; checkpointSteps: number[]; lrs: number[] }
export interface FitResult { js: FitRun; webgpu: FitRun }

/** The state of a trained SmallCnn (and a bool and an int32 tensor) read with readAll and with one read() per tensor. */
export interface ReadResult {
  /** Device tensors read. */
  count: number;
  /** Submissions of readAll, of the reads one tensor at a time, and of the pool's readMany split into staging buffers of 256 bytes. */
  submissions: { batched: number; single: number; split: number };
  /** Largest |readAll - read()| and |split readMany - read()| over every value (0: the same values). */
  maxDiff: number; splitMaxDiff: number;
  /** The array types readAll and read() gave, per tensor (a bool reads as a Uint8Array, indices as an Int32Array). */
  types: string[]; singleTypes: string[];
  /** Whether readAll cached each copy as read() does (t.data is the array returned). */
  cached: boolean;
}

export interface IndicesResult {
  /** The outputs and gradients that differ from js's host-index run in some bit (none expected). */
  differ: string[];
  /** Submissions during the forward and backward pass with device indices (0: nothing read back). */
  submissions: number;
  /** What the read after an index out of range threw, then what the read after it threw. */
  outOfRange: string;
  afterwards: string;
}

/** One efficient attention case: its output's and q, k, v gradients' largest |webgpu - js| over max |js|, by name. */
export interface EfficientCase { name: string; errors: Record<string, number>; submissions: number }

export interface TrainApi {
  efficient(): Promise<EfficientCase[]>;
  train(steps: number, attnDropout?: number): Promise<TrainResult>;
  /** With `splitK`, every conv2d weight gradient on webgpu is split into that many ranges of its K (forceConvSplitK). */
  trainCnn(steps: number, splitK?: number): Promise<CnnResult>;
  fitCnn(steps: number): Promise<FitResult>;
  sync(): Promise<SyncResult>;
  deviceIndices(): Promise<IndicesResult>;
  optimizers(): Promise<OptimResult[]>;
  readBatched(): Promise<ReadResult>;
}

type Params = Record<string, Tensor>;

function init(seed: number): Params {
  const { E, C, V } = SIZES;
  const g = new Generator(seed);
  const w = (o: number, i: number): Tensor => {
    const t = randn([o, i], { generator: g });
    const d = t.data as Float32Array;
    for (let j = 0; j < d.length; j++) d[j]! *= 1 / Math.sqrt(i);
    return t.requiresGrad_();
  };
  const b = (n: number): Tensor => zeros([n]).requiresGrad_();
  return {
    wte: w(V, E), lnW: ones([E]).requiresGrad_(), lnB: b(E),
    wq: w(E, E), bq: b(E), wk: w(E, E), bk: b(E), wv: w(E, E), bv: b(E), wo: w(E, E), bo: b(E),
    w1: w(4 * E, E), b1: b(4 * E), w2: w(E, 4 * E), b2: b(E), wc: w(C, E), bc: b(C),
  };
}

/** [B, L, E] -> [B, H, L, E / H] */
function heads(x: Tensor): Tensor {
  const { B, L, E, H } = SIZES;
  return permute(reshape(x, [B, L, H, E / H]), [0, 2, 1, 3]);
}

/** Attention dropout of the block's fused attention: its probability and generator. */
interface AttnDrop { p: number; generator: Generator }

function forward(p: Params, mha: MultiheadAttention, tokens: Tensor, pos: Tensor, y: Tensor, drop?: AttnDrop): Tensor {
  const { B, L, E } = SIZES;
  const x = add(embedding(tokens, p.wte!, { paddingIdx: 0 }), pos); // [B, L, E]
  const h = layerNorm(x, [E], p.lnW, p.lnB);
  const q = heads(linear(h, p.wq!, p.bq)), k = heads(linear(h, p.wk!, p.bk)), v = heads(linear(h, p.wv!, p.bv));
  const a = scaledDotProductAttention(q, k, v, { isCausal: true, ...(drop ? { dropoutP: drop.p, generator: drop.generator } : {}) })
    .output; // [B, H, L, E / H]
  const r = add(x, linear(reshape(permute(a, [0, 2, 1, 3]), [B, L, E]), p.wo!, p.bo)); // [B, L, E]
  const r1 = add(r, mha.forward(r, r, r, { needWeights: false }).output); // packed in-projection: slices of one weight
  const r2 = add(r1, linear(gelu(linear(r1, p.w1!, p.b1)), p.w2!, p.b2));
  return crossEntropy(linear(mean(r2, 1), p.wc!, p.bc), y); // logits [B, C]
}

interface Kernels {
  recorder: { submissions: number; dispatches: number };
  maxStorageBuffers: number;
  pool: { bytesAllocated: number; readMany(arrs: readonly DeviceArray[], maxBytes?: number): Promise<Float32Array[]> };
}
const kernelsOf = (be: AnyBackend): Kernels => (be as unknown as { kernels: Kernels }).kernels;

/** Per-step device memory of a run: the pool after the step, new buffers of its forward pass, what freeGraph gave back. */
interface Memory { poolBytes: number[]; forwardBytes: number[]; freedBytes: number[] }

async function trainOn(be: AnyBackend | null, steps: number, mem: Memory = { poolBytes: [], forwardBytes: [], freedBytes: [] },
  attnDropout = 0): Promise<number[]> {
  const { B, L, E, C, V } = SIZES;
  const p = init(1);
  const mha = new MultiheadAttention(SIZES.E, SIZES.H, { batchFirst: true, generator: new Generator(3) });
  if (be) {
    for (const t of Object.values(p)) toDevice(t, be);
    mha.toDevice(be);
  }
  const opt = new AdamW([...Object.values(p), ...mha.parameters()], { lr: 1e-2 });
  const data = new Generator(2);
  const tokens = randint(0, V, [B, L], { generator: data }); // 0 is the padding index
  const pos = randn([B, L, E], { generator: data }), y = randint(0, C, [B], { generator: data });
  const drop = attnDropout > 0 ? { p: attnDropout, generator: new Generator(5) } : undefined;
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad({ release: true }); // the previous step's gradients go back to the pool now
    const before = be ? kernelsOf(be).pool.bytesAllocated : 0;
    const loss = forward(p, mha, tokens, pos, y, drop);
    if (be) mem.forwardBytes.push(kernelsOf(be).pool.bytesAllocated - before);
    backward(loss);
    opt.step();
    losses.push((await loss.read())[0]!);
    mem.freedBytes.push(freeGraph(loss));
    if (be) mem.poolBytes.push(kernelsOf(be).pool.bytesAllocated);
  }
  return losses;
}

const OPTIMIZERS: { name: string; make: (p: Tensor[]) => Optimizer }[] = [
  { name: "SGD", make: (p) => new SGD(p, { lr: 0.1 }) },
  { name: "SGD momentum, dampening, weight decay", make: (p) => new SGD(p, { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 }) },
  { name: "SGD Nesterov, maximize", make: (p) => new SGD(p, { lr: 0.05, momentum: 0.8, nesterov: true, maximize: true }) },
  { name: "Adam", make: (p) => new Adam(p, { lr: 1e-2 }) },
  { name: "Adam L2, amsgrad, maximize", make: (p) => new Adam(p, { lr: 1e-2, weightDecay: 0.1, amsgrad: true, maximize: true }) },
  { name: "AdamW", make: (p) => new AdamW(p, { lr: 1e-2, weightDecay: 0.05, betas: [0.8, 0.99] }) },
];

/**
 * Three parameters (1000, 7 and 300 elements) after 3 steps of `make` from fixed values and
 * gradients, on `be` (null: the host), the second without a gradient at the first step (so its
 * step count, and Adam's step size, differ from the others' in the same dispatch, and its moments
 * are made a step later, in a flat array of their own); and the dispatches of the last step.
 * `clip`: each step's gradients (norm about 30) clipped to norm 1, in place first ("inPlace") or
 * read scaled by the update (Optimizer.step's gradScale, "scale").
 */
async function optimize(be: AnyBackend | null, make: (p: Tensor[]) => Optimizer, clip: "none" | "inPlace" | "scale" = "none"):
  Promise<{ values: Float32Array; dispatches: number }> {
  const sizes = [1000, 7, 300];
  const gen = new Generator(11);
  const ps = sizes.map((n) => randn([n], { generator: gen }).requiresGrad_());
  if (be) for (const p of ps) toDevice(p, be);
  const opt = make(ps);
  const grads = new Generator(12);
  let dispatches = 0;
  for (let s = 0; s < 3; s++) {
    ps.forEach((p, j) => {
      const g = randn([sizes[j]!], { generator: grads });
      p.grad = s === 0 && j === 1 ? null : be ? toDevice(g, be) : g;
    });
    let scale: Tensor | undefined;
    if (clip === "inPlace" && be) clipGradNormTensor(ps, 1);
    if (clip === "inPlace" && !be) clipGradNorm(ps, 1);
    if (clip === "scale") scale = clipCoefficientTensor(ps, 1).coef;
    const before = be ? kernelsOf(be).recorder.dispatches : 0;
    opt.step({ gradScale: scale });
    if (be) dispatches = kernelsOf(be).recorder.dispatches - before;
  }
  const values = await Promise.all(ps.map((p) => p.read()));
  return { values: Float32Array.from(values.flatMap((v) => [...v])), dispatches };
}

/**
 * The dispatches of optimize's last step where a kernel binds `storage` arrays and a parameter has
 * `states` state arrays (SGD: its momentum buffer or none; Adam: 2 moments, 3 with amsgrad): each
 * distinct buffer bound once (webgpu/shared-bindings.ts), parameters 0 and 2 sharing their states'
 * flat arrays (made at the first step), parameter 1 with its own (made at the second), plus the scale.
 */
function updateDispatches(storage: number, states: number, scaled: boolean): number {
  // the arrays each parameter binds: p and g, and its states' flat arrays ("A" or "B", one binding per state)
  const items = [["p0", "g0", "A"], ["p1", "g1", "B"], ["p2", "g2", "A"]];
  const cost = (names: Set<string>): number => [...names].reduce((n, x) => n + (x === "A" || x === "B" ? states : 1), 0);
  const common = scaled ? ["scale"] : [];
  let dispatches = 1, bound = new Set(common), count = 0;
  for (const it of items) {
    const next = new Set([...bound, ...it]);
    if (count > 0 && cost(next) > storage) {
      dispatches++;
      bound = new Set([...common, ...it]);
      count = 1;
    } else {
      bound = next;
      count++;
    }
  }
  return dispatches;
}

/** The spacing of float32 numbers at |x|. */
function ulpOf(x: number): number {
  const a = Math.abs(x);
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/**
 * The CNN trained by fit(): AdamW, gradient clipping (norm 0.05, so every step clips), a warm-up +
 * cosine schedule, an evaluation every 2 steps (the eval-mode loss, on host copies when on a device)
 * and a checkpoint every 3; the model and optimizer on `be` (null: the host).
 */
async function fitCnnOn(be: AnyBackend | null, steps: number): Promise<FitRun> {
  const model = new SmallCnn(new Generator(1));
  if (be) model.toDevice(be);
  const optimizer = new AdamW(model.parameters(), { lr: 1e-2 });
  const scheduler = new LRScheduler(optimizer, warmupCosine({ warmupSteps: 2, totalSteps: steps }));
  const data = new Generator(2);
  const x = randn([4, 3, 11, 9], { generator: data }), y = randint(0, 4, [4], { generator: data });
  const gradNorms: number[] = [], lrs: number[] = [], checkpointSteps: number[] = [];
  const r = await fit({
    model, optimizer, scheduler, steps, clipNorm: 0.05, seed: 3, freeGraph: true,
    batches: () => ({ x, y }),
    trainStep: (b) => crossEntropy(model.forward(b.x), b.y),
    onStep: (info) => { gradNorms.push(info.gradNorm ?? NaN); lrs.push(info.lr); },
    evalEvery: 2, evaluate: () => ({ loss: crossEntropy(model.forward(x), y).item() }),
    checkpointEvery: 3, checkpoint: (state) => { checkpointSteps.push(state.step); },
  });
  return { losses: r.losses, gradNorms, evals: r.evals.map((e) => e.metrics.loss!), checkpointSteps, lrs };
}

async function trainCnnOn(be: AnyBackend | null, steps: number): Promise<{ losses: number[]; running: number[]; evalLogits: number[] }> {
  const model = new SmallCnn(new Generator(1));
  if (be) model.toDevice(be);
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const data = new Generator(2);
  const x = randn([4, 3, 11, 9], { generator: data }), y = randint(0, 4, [4], { generator: data });
  const losses = await trainSteps(model, opt, x, y, steps);
  const running = [...await model.bn.runningMean!.read(), ...await model.bn.runningVar!.read()];
  model.eval();
  const evalLogits = Array.from(await model.forward(x).read());
  return { losses, running, evalLogits };
}

let gpu: AnyBackend;

const api: TrainApi = {
  async train(steps, attnDropout = 0) {
    setBackend("js");
    const js = await trainOn(null, steps, undefined, attnDropout);
    setBackend("webgpu");
    const before = kernelsOf(gpu).recorder.submissions;
    const mem: Memory = { poolBytes: [], forwardBytes: [], freedBytes: [] };
    const webgpu = await trainOn(gpu, steps, mem, attnDropout);
    const after = kernelsOf(gpu).recorder.submissions;
    setBackend("js");
    return { js, webgpu, backend: gpu.name, submissions: after - before, sizes: SIZES, poolBytes: mem.poolBytes,
      forwardBytes: mem.forwardBytes, freedBytes: mem.freedBytes };
  },
  async optimizers() {
    const out: OptimResult[] = [];
    for (const { name, make } of OPTIMIZERS) {
      setBackend("js");
      const host = await optimize(null, make);
      setBackend("webgpu");
      const fused = await optimize(gpu, make);
      const inPlace = await optimize(gpu, make, "inPlace"), scaled = await optimize(gpu, make, "scale");
      const was = useFusedOptimizerSteps(false);
      const composed = await optimize(gpu, make);
      useFusedOptimizerSteps(was);
      setBackend("js");
      let maxUlps = 0, maxRelToHost = 0, scaledUlps = 0;
      for (let i = 0; i < host.values.length; i++) {
        const f = fused.values[i]!, c = composed.values[i]!, h = host.values[i]!;
        maxUlps = Math.max(maxUlps, Number.isNaN(f) || Number.isNaN(c) ? Infinity : Math.abs(f - c) / ulpOf(c));
        maxRelToHost = Math.max(maxRelToHost, Number.isNaN(f) ? Infinity : Math.abs(f - h) / (1 + Math.abs(h)));
        const a = scaled.values[i]!, b = inPlace.values[i]!;
        scaledUlps = Math.max(scaledUlps, Number.isNaN(a) || Number.isNaN(b) ? Infinity : Math.abs(a - b) / ulpOf(b));
      }
      const storage = kernelsOf(gpu).maxStorageBuffers, amsgrad = name.includes("amsgrad");
      const states = name.startsWith("SGD") ? (name.includes("momentum") || name.includes("Nesterov") ? 1 : 0) : amsgrad ? 3 : 2;
      const fusedWant = updateDispatches(storage, states, false);
      const scaledWant = updateDispatches(storage, states, true);
      out.push({ name, maxUlps, maxRelToHost, dispatches: [fused.dispatches, composed.dispatches], fusedWant,
        scaledUlps, scaledDispatches: scaled.dispatches, scaledWant });
    }
    return out;
  },
  async fitCnn(steps) {
    setBackend("js");
    const js = await fitCnnOn(null, steps);
    setBackend("webgpu");
    const webgpu = await fitCnnOn(gpu, steps);
    setBackend("js");
    return { js, webgpu };
  },
  async trainCnn(steps, splitK) {
    setBackend("js");
    const js = await trainCnnOn(null, steps);
    setBackend("webgpu");
    forceConvSplitK(splitK ?? null);
    let webgpu: Awaited<ReturnType<typeof trainCnnOn>>;
    try {
      webgpu = await trainCnnOn(gpu, steps);
    } finally {
      forceConvSplitK(null);
    }
    setBackend("js");
    return { js: js.losses, webgpu: webgpu.losses, running: { js: js.running, webgpu: webgpu.running },
      evalLogits: { js: js.evalLogits, webgpu: webgpu.evalLogits } };
  },
  async readBatched() {
    setBackend("webgpu");
    const model = new SmallCnn(new Generator(1));
    model.toDevice(gpu);
    const data = new Generator(2);
    const x = randn([4, 3, 11, 9], { generator: data }), y = randint(0, 4, [4], { generator: data });
    await trainSteps(model, new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }), x, y, 1);
    const w = model.c1.weight;
    const all = [...Object.values(model.stateDict()), gt(w, 0), argmax(model.fc.weight, 1)].filter((t) => t.onDevice);
    const rec = kernelsOf(gpu).recorder;
    let s0 = rec.submissions;
    const batched = await readAll(all);
    const batchedSubmissions = rec.submissions - s0;
    const cached = all.every((t, i) => t.data === batched[i]);
    for (const t of all) t.deviceWritten();
    s0 = rec.submissions;
    const single: ArrayLike<number>[] = [];
    for (const t of all) single.push(await t.read());
    const singleSubmissions = rec.submissions - s0;
    s0 = rec.submissions;
    const split = await kernelsOf(gpu).pool.readMany(all.map((t) => t.device!), 256);
    const splitSubmissions = rec.submissions - s0;
    const diff = (a: ArrayLike<number>[]): number => {
      let m = 0;
      a.forEach((v, i) => {
        const want = single[i]!;
        if (v.length !== want.length) m = Infinity;
        for (let j = 0; j < want.length; j++) m = Math.max(m, Object.is(v[j], want[j]) ? 0 : Math.abs(Number(v[j]) - Number(want[j])) || Infinity);
      });
      return m;
    };
    setBackend("js");
    return {
      count: all.length, submissions: { batched: batchedSubmissions, single: singleSubmissions, split: splitSubmissions },
      maxDiff: diff(batched), splitMaxDiff: diff(split), cached,
      types: batched.map((a) => a.constructor.name), singleTypes: single.map((a) => a.constructor.name),
    };
  },
  async efficient() {
    // FAVOR+ (its features' row and matrix maxima included), elu + 1 linear attention, causal and
    // not, and the sliding window's sparse kernels, as the whole op and its backward
    const features = new PerformerFeatures(8, 16, 3);
    const cases: [string, (q: Tensor, k: Tensor, v: Tensor) => Tensor][] = [
      ["performer", (q, k, v) => performerAttention(q, k, v, { features }).output],
      ["performer causal", (q, k, v) => performerAttention(q, k, v, { features, causal: true }).output],
      ["linear", (q, k, v) => linearAttention(q, k, v).output],
      ["linear causal", (q, k, v) => linearAttention(q, k, v, { causal: true }).output],
      ["window", (q, k, v) => windowAttention(q, k, v, { window: 3 }).output],
    ];
    const run = async (f: (q: Tensor, k: Tensor, v: Tensor) => Tensor, device: boolean): Promise<{ got: Float32Array[]; submissions: number }> => {
      setBackend(device ? "webgpu" : "js");
      const [q, k, v] = [11, 12, 13].map((seed) => randn([2, 2, 16, 8], { generator: new Generator(seed) }).requiresGrad_(true)) as [Tensor, Tensor, Tensor];
      if (device) for (const t of [q, k, v]) toDevice(t, gpu);
      const before = (gpu as WebGPUBackend).kernels.recorder.submissions;
      const out = f(q, k, v);
      backward(sum(mul(out, randn(out.shape, { generator: new Generator(14) }))));
      const submissions = (gpu as WebGPUBackend).kernels.recorder.submissions - before;
      const got = (await readAll([out, q.grad!, k.grad!, v.grad!])).map((a) => Float32Array.from(a as Float32Array));
      setBackend("js");
      return { got, submissions };
    };
    const result: EfficientCase[] = [];
    for (const [name, f] of cases) {
      const want = (await run(f, false)).got, { got, submissions } = await run(f, true);
      const errors: Record<string, number> = {};
      ["output", "q's gradient", "k's gradient", "v's gradient"].forEach((what, i) => {
        const a = got[i]!, b = want[i]!;
        let err = a.length === b.length ? 0 : Infinity, big = 0;
        for (let j = 0; j < b.length; j++) {
          big = Math.max(big, Math.abs(b[j]!));
          err = Math.max(err, Number.isNaN(a[j]!) ? Infinity : Math.abs(a[j]! - b[j]!));
        }
        errors[what] = err / big;
      });
      result.push({ name, errors, submissions });
    }
    return result;
  },
  async deviceIndices() {
    const V = 5, ids = [1, 0, 3, 3, 3, 2], scores = new Float32Array(ids.length * V);
    ids.forEach((v, k) => { scores[k * V + v] = 1; });
    // embedding (padding row 3) and indexSelect along dim 1 by the same ids; the outputs and the gradients of sum(y * c)
    const pass = async (device: boolean): Promise<Float32Array[]> => {
      setBackend(device ? "webgpu" : "js");
      const w = randn([V, 4], { generator: new Generator(7) }).requiresGrad_(true), x = randn([2, V, 3], { generator: new Generator(8) }).requiresGrad_(true);
      if (device) for (const t of [w, x]) toDevice(t, gpu);
      const before = (gpu as WebGPUBackend).kernels.recorder.submissions;
      const idx = device ? argmax(toDevice(new Tensor(scores, [2, 3, V], "float32"), gpu), -1) : tensor([[1, 0, 3], [3, 3, 2]], { dtype: "int32" });
      const e = embedding(idx, w, { paddingIdx: 3 }), z = indexSelect(x, 1, reshape(idx, [6]));
      backward(add(sum(mul(e, randn(e.shape, { generator: new Generator(9) }))), sum(mul(z, randn(z.shape, { generator: new Generator(10) })))));
      submitted = (gpu as WebGPUBackend).kernels.recorder.submissions - before;
      const got = (await readAll([e, z, w.grad!, x.grad!])).map((a) => Float32Array.from(a as Float32Array));
      setBackend("js");
      return got;
    };
    let submitted = 0;
    const want = await pass(false), got = await pass(true), submissions = submitted;
    const names = ["embedding", "indexSelect", "weight's gradient", "x's gradient"];
    const differ = names.filter((_, i) => {
      const a = new Uint32Array(got[i]!.buffer), b = new Uint32Array(want[i]!.buffer);
      return a.length !== b.length || a.some((v, j) => v !== b[j]);
    });
    // an index out of range: the next read throws, the one after it does not
    const w = toDevice(randn([V, 4]), gpu);
    const outcome = (p: Promise<unknown>): Promise<string> => p.then(() => "none", (err: unknown) => `${(err as Error).name}: ${(err as Error).message}`);
    const bad = embedding(toDevice(tensor([0, V], { dtype: "int32" }), gpu), w);
    const outOfRange = await outcome(bad.read()), afterwards = await outcome(bad.read());
    return { differ, submissions, outOfRange, afterwards };
  },
  async sync() {
    setBackend("webgpu");
    const t = toDevice(randn([2, 3], { generator: new Generator(5) }), gpu);
    const want = Array.from(randn([2, 3], { generator: new Generator(5) }).data);
    let threw = "", op = "", message = "";
    try {
      void t.data;
    } catch (e) {
      threw = e instanceof DeviceSyncError ? "DeviceSyncError" : String(e);
      op = (e as DeviceSyncError).op;
      message = (e as Error).message;
    }
    const read = Array.from(await t.read());
    const afterRead = Array.from(t.data);
    const h = randn([2]);
    const hostRead = (await h.read()) === h.data;
    const wb = gpu as WebGPUBackend;
    const a = wb.alloc(1000);
    wb.release(a);
    const b = wb.alloc(1000); // a's buffer, reused
    wb.release(a); // stale: must not give b's buffer back
    const c = wb.alloc(1000);
    const secondReleaseIgnored = b.buffer === a.buffer && c.buffer !== b.buffer;
    setBackend("js");
    return { threw, op, message, read: read.map((v, i) => v - want[i]!), afterRead: afterRead.map((v, i) => v - want[i]!), hostRead,
      secondReleaseIgnored };
  },
};

async function start(): Promise<void> {
  const body = (globalThis as { document?: { body: { dataset: Record<string, string> } } }).document!.body;
  try {
    gpu = await useWebGPU();
    if (gpu.name !== "webgpu") throw new Error(`useWebGPU kept ${gpu.name}`);
    setBackend("js");
    (globalThis as Record<string, unknown>).qkvTrain = api;
  } catch (e) {
    body.dataset.error = String(e);
  }
  body.dataset.ready = "1";
}
void start();
