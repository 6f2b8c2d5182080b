/**
 * Batches of images for training and evaluation (browser-safe): pixels scaled to [0, 1] and
 * normalized with the dataset's mean and standard deviation, as [B, 1, H, W] float32. Training
 * batches are drawn from a seeded shuffle of each epoch and shifted by a random whole number of
 * pixels (up to `shift` each way; the pixels that come in are background), so `batchAt(step)` is a
 * pure function of (data, seed, step) and a resumed run sees the same batches.
 *
 * ```ts
 * const plan = new ImageBatches(train, { batchSize: 128, seed: 0, shift: 2, mean: 0.1307, std: 0.3081 });
 * const { x, y } = plan.batchAt(0);   // x [128, 1, 28, 28] float32, y [128] int32
 * plan.epochOf(1000);                 // which pass over the data step 1000 belongs to
 * const xs = imagesToTensor(test, 0, 500, { mean, std }); // [500, 1, 28, 28], no shift
 * ```
 */
import { ValueError } from "../../tensor/errors.js";
import { Generator, uniformAt } from "../../tensor/rng.js";
import { Tensor } from "../../tensor/tensor.js";
import type { ImageSet } from "./datasets.js";

export interface Normalization {
  mean: number;
  std: number;
}

export interface ImageBatch {
  /** [B, 1, H, W] float32 */
  x: Tensor;
  /** [B] int32 */
  y: Tensor;
}

/** Writes image `i` of `s`, normalized and shifted by (dy, dx) with background filling in, into `out` at `at`. */
function writeImage(out: Float32Array, at: number, s: ImageSet, i: number, norm: Normalization, dy = 0, dx = 0): void {
  const H = s.height, W = s.width, src = i * H * W;
  const scale = 1 / (255 * norm.std), bg = -norm.mean / norm.std;
  for (let r = 0; r < H; r++) {
    const sr = r - dy;
    for (let c = 0; c < W; c++) {
      const sc = c - dx;
      out[at + r * W + c] = sr >= 0 && sr < H && sc >= 0 && sc < W ? s.images[src + sr * W + sc]! * scale + bg : bg;
    }
  }
}

/** Images [start, end) of `s` as a normalized [n, 1, H, W] float32 tensor and their labels [n] int32. */
export function imagesToTensor(s: ImageSet, start: number, end: number, norm: Normalization): ImageBatch {
  const n = end - start, px = s.height * s.width;
  const x = new Float32Array(n * px);
  for (let k = 0; k < n; k++) writeImage(x, k * px, s, start + k, norm);
  return { x: new Tensor(x, [n, 1, s.height, s.width], "float32"), y: new Tensor(Int32Array.from(s.labels.subarray(start, end)), [n], "int32") };
}

export interface ImageBatchOptions extends Normalization {
  batchSize: number;
  seed: number;
  /** Largest random shift in pixels along each axis (default 0: none). */
  shift?: number;
}

export class ImageBatches {
  /** Full batches per epoch (the remainder of each shuffle is left out). */
  readonly batchesPerEpoch: number;
  readonly batchSize: number;
  private order: Int32Array | null = null;
  private orderEpoch = -1;
  private readonly keys: { k0: number; k1: number };

  constructor(readonly set: ImageSet, readonly opts: ImageBatchOptions) {
    const op = "ImageBatches";
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new ValueError(op, "batchSize", "a positive integer", String(opts.batchSize));
    const shift = opts.shift ?? 0;
    if (!Number.isInteger(shift) || shift < 0 || shift >= Math.min(set.height, set.width)) {
      throw new ValueError(op, "shift", `an integer in [0, ${Math.min(set.height, set.width) - 1}]`, String(shift));
    }
    if (set.count < 1) throw new ValueError(op, "set", "at least one image", "none");
    this.batchSize = Math.min(opts.batchSize, set.count);
    this.batchesPerEpoch = Math.floor(set.count / this.batchSize);
    const { k0, k1 } = new Generator(opts.seed * 1000003 + 0x5417f7).take(0);
    this.keys = { k0, k1 };
  }

  epochOf(step: number): number {
    return Math.floor(step / this.batchesPerEpoch);
  }

  /** The shuffled image order of an epoch (a seeded permutation, a new one every epoch). */
  private orderOf(epoch: number): Int32Array {
    if (this.orderEpoch !== epoch || !this.order) {
      const n = this.set.count, u = new Float32Array(n);
      new Generator(this.opts.seed * 1000003 + epoch).fillUniform(u);
      const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => u[a]! - u[b]! || a - b);
      this.order = Int32Array.from(idx);
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  batchAt(step: number): ImageBatch {
    if (!Number.isInteger(step) || step < 0) throw new ValueError("ImageBatches.batchAt", "step", "an integer >= 0", String(step));
    const B = this.batchSize, s = this.set, px = s.height * s.width;
    const epoch = this.epochOf(step), first = (step - epoch * this.batchesPerEpoch) * B;
    const order = this.orderOf(epoch), shift = this.opts.shift ?? 0;
    const x = new Float32Array(B * px), y = new Int32Array(B);
    const { k0, k1 } = this.keys;
    for (let k = 0; k < B; k++) {
      const i = order[first + k]!;
      // each image's shift comes from its own counters of the stream: (step, k) -> two uniforms
      const c = (step * B + k) * 2;
      const dy = shift ? Math.floor(uniformAt(k0, k1, c) * (2 * shift + 1)) - shift : 0;
      const dx = shift ? Math.floor(uniformAt(k0, k1, c + 1) * (2 * shift + 1)) - shift : 0;
      writeImage(x, k * px, s, i, this.opts, dy, dx);
      y[k] = s.labels[i]!;
    }
    return { x: new Tensor(x, [B, 1, s.height, s.width], "float32"), y: new Tensor(y, [B], "int32") };
  }
}
