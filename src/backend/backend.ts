/**
 * The Backend interface: the few dozen kernels every op bottoms out in. Kernels take flat arrays
 * and sizes, outputs first, and never validate (the op above did). A backend class that misses a
 * kernel fails to compile.
 *
 * The array type is a parameter: `FloatArray` (host typed arrays) for js, native and wasm,
 * `GpuArray` (a buffer of the device's pool, an element offset and a length) for webgpu. Ops ask a
 * tensor for its array of the backend they run on (ops/util.ts `arrayOf`), so each op is written
 * once for both kinds.
 *
 * float64 tensors (gradient checks, references) always run on the js backend; the fast backends
 * only ever see float32.
 */
import type { DeviceArray } from "../tensor/device.js";
import type { FloatArray } from "../tensor/dtype.js";
import type { IndexCheck } from "./index-checks.js";

export type BackendName = "js" | "native" | "wasm" | "webgpu";

/** An array of some backend: a host typed array or a device array. */
export type KernelArray = FloatArray | DeviceArray;

/** Elementwise unary kernels (a closed set). */
export type UnaryOp =
  | "neg" | "exp" | "log" | "sqrt" | "rsqrt" | "tanh" | "erf" | "abs" | "relu" | "sigmoid"
  | "geluErf" | "geluTanh" | "sin" | "cos" | "square" | "reciprocal" | "sign" | "elu";

/**
 * Elementwise binary kernels with broadcasting (a closed set). `geluErfGrad` is the exact GELU's
 * backward, a · gelu'(b) with a the incoming gradient and b the input (PyTorch's
 * gelu_backward(grad, self)): gelu'(x) = Φ(x) + x φ(x) = (1 + erf(x / √2)) / 2 + x e^(-x² / 2) / √(2π),
 * taken at its limits 1 and 0 for x = +Infinity and -Infinity. `reluGrad` is relu's backward,
 * a where b > 0 else +0 (a the incoming gradient, b relu's input or output; PyTorch's
 * threshold_backward(grad, self, 0)).
 */
export type BinaryOp = "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum" | "geluErfGrad" | "reluGrad";

/**
 * Element strides [sB, sH, sL] of one [B, heads, rows, D] attention operand: element (b, h, i, d) sits
 * at b * sB + h * sH + i * sL + d (the last dim is always contiguous). The strides are non-negative
 * and each operand's elements are distinct, so operands may be interleaved views of one buffer (q, k
 * and v of a packed [B, T, 3, H, D] projection; dq, dk and dv of its gradient).
 */
export type RowStrides = readonly [sB: number, sH: number, sL: number];

/** The strides of a contiguous [B, heads, rows, D] operand. */
export function contiguousRowStrides(heads: number, rows: number, D: number): RowStrides {
  return [heads * rows * D, rows * D, D];
}

/** The layouts of an attention call's operands (see AttentionArgs). */
export interface AttentionLayouts {
  qStrides: RowStrides; kStrides: RowStrides; vStrides: RowStrides; oStrides: RowStrides;
}

/** The layouts of contiguous q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv] and out [B, H, L, Dv]. */
export function contiguousLayouts(a: { H: number; Hkv: number; L: number; S: number; D: number; Dv: number }): AttentionLayouts {
  return {
    qStrides: contiguousRowStrides(a.H, a.L, a.D), kStrides: contiguousRowStrides(a.Hkv, a.S, a.D),
    vStrides: contiguousRowStrides(a.Hkv, a.S, a.Dv), oStrides: contiguousRowStrides(a.H, a.L, a.Dv),
  };
}

/**
 * Sizes, layouts and options of one attention call.
 * q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv], out [B, H, L, Dv], each at its strides
 * (`qStrides`, `kStrides`, `vStrides`, `oStrides`; `contiguousLayouts` gives the dense ones);
 * lse [B, H, L] is contiguous. In the backward, dq / dk / dv have the layouts of q / k / v and dout
 * that of out; only the operands' own elements are written.
 * Query head h reads kv head floor(h / (H / Hkv)).
 * `mask` is additive (float, may hold -Infinity), indexed
 * `b * maskStrideB + h * maskStrideH + i * maskStrideL + j` (a stride of 0 broadcasts).
 * `causal`: query i may attend key j only when j <= i (top-left aligned).
 * Dropout keeps element (b, h, i, j) unless uniformAt(seedK0, seedK1, seedStart + ((b*H + h)*L + i)*S + j) < dropoutP,
 * and scales kept weights by 1 / (1 - dropoutP).
 * A row with every key masked gives output 0 and lse -Infinity; its gradients are 0.
 */
export interface AttentionArgs<A = FloatArray> extends AttentionLayouts {
  B: number; H: number; Hkv: number; L: number; S: number; D: number; Dv: number;
  scale: number;
  causal: boolean;
  mask: A | null;
  maskStrideB: number; maskStrideH: number; maskStrideL: number;
  dropoutP: number;
  seedK0: number; seedK1: number; seedStart: number;
}

/**
 * The allowed keys of each query row of sparse attention, shared by every batch and head: row i's
 * keys are the union of the strided ranges r in [rowLo[i], rowHi[i]), range r holding keys
 * spans[3r] + t·spans[3r+2] < spans[3r+1] (t = 0, 1, ...). Ranges of a row are disjoint.
 * Rows may share ranges (block patterns store one list per block row).
 */
export interface SparsePattern {
  L: number;
  S: number;
  rowLo: Int32Array;
  rowHi: Int32Array;
  spans: Int32Array;
  /** The largest number of keys of a row. */
  maxRow: number;
  /** Total allowed (query, key) pairs. */
  nnz: number;
}

/**
 * Sizes of one sparse attention call: q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv],
 * out [B, H, L, Dv], lse [B, H, L] (L, S from the pattern). Query head h reads kv head
 * floor(h / (H / Hkv)). A row with no allowed key gives output 0, lse -Infinity and zero gradients.
 */
export interface SparseAttentionArgs {
  B: number; H: number; Hkv: number; D: number; Dv: number;
  scale: number;
  pattern: SparsePattern;
}

/**
 * Sizes of one linear attention call over feature-mapped queries and keys:
 * fq [B, H, L, M], fk [B, Hkv, S, M], v [B, Hkv, S, Dv] -> out [B, H, L, Dv], den [B, H, L].
 */
export interface LinearAttentionArgs {
  B: number; H: number; Hkv: number; L: number; S: number;
  /** Feature dimension of fq / fk. */
  M: number;
  Dv: number;
  /** Query i sees keys j <= i (requires L = S). */
  causal: boolean;
}

/**
 * Sizes of one 2-D convolution, NCHW (torch's cross-correlation): x [B, C, H, W], weight
 * [O, C / G, kH, kW], out [B, O, oH, oW]; G channel groups (input channels g C/G.. feed output
 * channels g O/G..). Output position (oh, ow) of tap (i, j) reads input row oh sH - padTop + i dH
 * and column ow sW - padLeft + j dW, zero outside the image; the bottom / right padding is whatever
 * oH, oW imply.
 */
export interface Conv2dArgs {
  B: number; C: number; H: number; W: number; O: number; kH: number; kW: number; oH: number; oW: number;
  sH: number; sW: number; padTop: number; padLeft: number; dH: number; dW: number; G: number;
}

/**
 * Sizes of one 2-D pooling call over planes: x [P, H, W] (P = B * C), out [P, oH, oW]. Output
 * (oh, ow) covers rows oh sH - padH + i dH (i < kH) and likewise columns; taps in the padding are
 * skipped (max) or counted per `countIncludePad` (average, where dH = dW = 1).
 */
export interface Pool2dArgs {
  P: number; H: number; W: number; oH: number; oW: number;
  kH: number; kW: number; sH: number; sW: number; padH: number; padW: number; dH: number; dW: number;
}

/** Average pooling: Pool2dArgs with torch's divisor rules (`divisor` > 0 overrides the window size; 0: none). */
export interface AvgPool2dArgs extends Pool2dArgs { countIncludePad: boolean; divisor: number }

/** Adaptive average pooling [P, H, W] -> [P, oH, oW]: output o covers [floor(o n / m), ceil((o + 1) n / m)). */
export interface AdaptivePool2dArgs { P: number; H: number; W: number; oH: number; oW: number }

export interface Backend<A = FloatArray> {
  readonly name: BackendName;
  /** "host": arrays are host typed arrays (tensors keep `data`); "device": arrays live in device memory. */
  readonly kind: "host" | "device";

  /** An array of n float32 elements, contents unspecified. */
  alloc(n: number): A;
  /** An array holding `host` (a host backend may return `host` itself). */
  upload(host: Float32Array): A;
  /** The contents of `arr` on the host once the work recorded before has run (a host backend resolves at once). */
  read(arr: A): Promise<Float32Array>;
  /** Elements [offset, offset + length) of `arr`, sharing its memory (a subarray; a device view keeps arr alive). */
  view(arr: A, offset: number, length: number): A;

  // ---- batched reads
  /** The contents of each of `arrs` (in order), as `read` gives them, in one transfer where the backend can (webgpu: one submission). */
  readMany(arrs: readonly A[]): Promise<Float32Array[]>;
  // ---- end batched reads

  /**
   * Batched matmul: out[b] = op(a[b]) @ op(b[b]), out [batch, M, N] contiguous.
   * a holds [M, K] (or [K, M] when transA) per batch at offset b * strideA (0: shared), likewise b
   * holds [K, N] (or [N, K] when transB) at offset b * strideB. When `accumulate`, out += result.
   */
  matmul(out: A, a: A, b: A, batch: number, M: number, N: number, K: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean): void;

  /**
   * out [outShape] (contiguous) = x read at element strides `strides` per out dim (0 broadcasts):
   * the copy behind permute and expand.
   */
  stridedCopy(out: A, x: A, outShape: readonly number[], strides: readonly number[]): void;

  /** out[i] = op(x[i]) for i < n; `alpha` parameterizes elu. */
  unary(op: UnaryOp, out: A, x: A, n: number, alpha: number): void;

  /**
   * Dropout with the counter-based generator: out[i] = 0 when uniformAt(k0, k1, start + i) < p,
   * else x[i] / (1 - p) (computed in float64, rounded once), for i < n. Applied to the incoming
   * gradient with the same counters, it is its own backward.
   */
  dropout(out: A, x: A, n: number, p: number, k0: number, k1: number, start: number): void;

  /** out = a (op) b with NumPy broadcasting; strides are element strides into a and b per out dim (0 = broadcast). */
  binary(op: BinaryOp, out: A, a: A, b: A,
    outShape: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): void;

  /** Row-wise softmax (or log-softmax) of x [rows, cols]; rows of only -Infinity give 0 (softmax) or -Infinity. */
  softmax(out: A, x: A, rows: number, cols: number, log: boolean): void;
  /** dx from the forward output y and the incoming dy. */
  softmaxBackward(dx: A, y: A, dy: A, rows: number, cols: number, log: boolean): void;

  /** LayerNorm over the last `cols` of x [rows, cols]; saves mean and rstd [rows]. weight/bias may be null. */
  layerNorm(out: A, mean: A, rstd: A, x: A, weight: A | null,
    bias: A | null, rows: number, cols: number, eps: number): void;
  /** Writes dx; writes (not accumulates) dweight and dbias when not null. */
  layerNormBackward(dx: A, dweight: A | null, dbias: A | null, dy: A,
    x: A, mean: A, rstd: A, weight: A | null, rows: number, cols: number): void;

  /** Fused attention forward (online softmax, O(L + S) extra memory per head). */
  attentionForward(out: A, lse: A, q: A, k: A, v: A, args: AttentionArgs<A>): void;
  /** Fused attention backward: recomputes scores from lse. Writes (not accumulates) dq, dk, dv. */
  attentionBackward(dq: A, dk: A, dv: A, dout: A, q: A, k: A,
    v: A, out: A, lse: A, args: AttentionArgs<A>): void;

  /** Convolution forward: out [B, O, oH, oW] = conv(x, weight), plus bias [O] when not null. */
  conv2dForward(out: A, x: A, weight: A, bias: A | null, args: Conv2dArgs): void;
  /** Convolution backward for x: dx [B, C, H, W] from dy [B, O, oH, oW] (written, not accumulated). */
  conv2dBackwardInput(dx: A, dy: A, weight: A, args: Conv2dArgs): void;
  /** Convolution backward for the weight: dweight [O, C / G, kH, kW] from dy and x (written, not accumulated). */
  conv2dBackwardWeight(dweight: A, dy: A, x: A, args: Conv2dArgs): void;

  /** Sparse attention forward: softmax over each row's allowed keys only; saves lse. */
  sparseAttentionForward(out: A, lse: A, q: A, k: A, v: A,
    args: SparseAttentionArgs): void;
  /** Sparse attention backward from the saved lse. Writes (not accumulates) dq, dk, dv. */
  sparseAttentionBackward(dq: A, dk: A, dv: A, dout: A, q: A,
    k: A, v: A, out: A, lse: A, args: SparseAttentionArgs): void;

  /** Linear attention forward: out_i = fq_i^T (sum_j fk_j v_j^T) / den_i, den_i = fq_i^T sum_j fk_j. */
  linearAttentionForward(out: A, den: A, fq: A, fk: A, v: A,
    args: LinearAttentionArgs): void;
  /** Linear attention backward. Writes (not accumulates) dfq, dfk, dv. */
  linearAttentionBackward(dfq: A, dfk: A, dv: A, dout: A, fq: A,
    fk: A, v: A, out: A, den: A, args: LinearAttentionArgs): void;

  // --- selection, reductions along a dim and gathers (where, max / min, logsumexp, indexSelect) ---
  // Integers (a condition, an index) travel as float32 values: exact below 2^24.

  /**
   * out [outShape] = cond != 0 ? a : b, each operand read at its element strides per out dim (0
   * broadcasts); cond holds 0 / 1.
   */
  where(out: A, cond: A, a: A, b: A, outShape: readonly number[], condStrides: readonly number[],
    aStrides: readonly number[], bStrides: readonly number[]): void;
  /**
   * out [outShape] = a (op) b ? 1 : 0 with NumPy broadcasting (element strides per out dim, 0
   * broadcasts): the comparisons on a device, whose bool result holds 0 / 1 as floats. A NaN
   * compares unequal to everything, itself included.
   */
  compare(op: CompareOp, out: A, a: A, b: A, outShape: readonly number[], aStrides: readonly number[],
    bStrides: readonly number[]): void;
  /**
   * The max (or min) of x [outer, n, inner] over n (n >= 1): values [outer, inner] and indices
   * [outer, inner], the first index holding it, as floats. A NaN wins (the first one), as in PyTorch.
   */
  extreme(values: A, indices: A, x: A, outer: number, n: number, inner: number, op: ExtremeOp): void;
  /** dx [outer, n, inner] = g [outer, inner] at indices [outer, inner] along n, 0 elsewhere (written in full). */
  extremeBackward(dx: A, g: A, indices: A, outer: number, n: number, inner: number): void;
  /**
   * out [outer, inner] = log sum_k exp(x[o, k, j]) over n, each term shifted by the max m over n (by 0
   * when m is not finite, so a row of only -Infinity gives -Infinity). The backward is g exp(x - out).
   */
  logsumexp(out: A, x: A, outer: number, n: number, inner: number): void;
  /**
   * out [outer, m, inner] = x [outer, n, inner] at index [m] along n; the row of an index outside
   * [0, n) is zeros. With `check`, the indices are a device array that nobody checked (an int32
   * tensor's on the device): such an index also sets the check's flag, which the store's next read
   * reports as a ValueError (backend/index-checks.ts), also when there is no output element
   * (outer or inner 0). Host backends only ever get host indices, which the op checked.
   */
  indexSelect(out: A, x: A, index: A, outer: number, n: number, inner: number, m: number, check?: IndexCheck): void;
  /**
   * dx [outer, n, inner] (written in full): row r of each outer block is the sum, in order of k, of
   * the rows k of g [outer, m, inner] that picked r, listed by the grouping (`groupIndices`, or
   * backend/index-grouping.ts's on the host): order[offsets[r] .. offsets[r + 1]), offsets [n + 1],
   * integers as floats; an index left out of it (outside [0, n), padding) adds nowhere.
   */
  indexSelectBackward(dx: A, g: A, order: A, offsets: A, outer: number, n: number, inner: number, m: number): void;
  /**
   * The grouping indexSelectBackward takes, built where the indices are: offsets [n + 1] and order
   * [m] (its first offsets[n] entries written) of index [m] (integers as floats), equal to what
   * backend/index-grouping.ts's indexGrouping builds on the host: a stable counting sort, so order
   * lists the positions k row by row, ascending within a row; an index outside [0, n), or equal
   * to `skip` (the embedding's padding index; a value outside [0, n) skips none), is left out.
   */
  groupIndices(order: A, offsets: A, index: A, n: number, m: number, skip: number): void;

  // ---- the negative log-likelihood (ops/functional.ts's nllLoss on a device): log-probabilities
  // lp [N, C], class ids held as floats (a negative id: an ignored row), label smoothing eps given
  // as keep = 1 - eps and spread = eps / C; see backend/js/nll.ts

  /** per [N] = -keep lp[n, y_n] - spread sum_c lp[n, c] (the sum only where spread != 0); 0 where y_n < 0. */
  nllForward(per: A, lp: A, ids: A, N: number, C: number, keep: number, spread: number): void;
  /**
   * dlp [N, C] = g'[n] (-spread - keep [c = y_n]); 0 in a row where y_n < 0. g'[n] = g[n * gStride]
   * * gScale (gStride 0: one gradient for every row, a reduced loss's; gScale 1 / count for a mean).
   */
  nllBackward(dlp: A, g: A, ids: A, N: number, C: number, keep: number, spread: number, gScale: number, gStride: 0 | 1): void;

  // ---- pooling and batch norm (kernels the device path of ops/pool.ts and ops/batchnorm.ts calls)

  /**
   * Max pooling: out [P, oH, oW] and argmax [P, oH, oW], the flat h W + w of each window's max as
   * a float (the first in row-major order on ties, a NaN wins; -1 for a window with no tap inside).
   */
  maxPool2d(out: A, argmax: A, x: A, args: Pool2dArgs): void;
  /** dx [P, H, W] = dy routed to the saved argmax of each window (written, not accumulated). */
  maxPool2dBackward(dx: A, dy: A, argmax: A, args: Pool2dArgs): void;
  /** Average pooling (torch's divisor rules); a window wholly in the padding gives 0. */
  avgPool2d(out: A, x: A, args: AvgPool2dArgs): void;
  /** dx [P, H, W]: each output's gradient over its divisor, spread over its window (written). */
  avgPool2dBackward(dx: A, dy: A, args: AvgPool2dArgs): void;
  /** Adaptive average pooling. */
  adaptiveAvgPool2d(out: A, x: A, args: AdaptivePool2dArgs): void;
  /** dx [P, H, W] of adaptive average pooling (written). */
  adaptiveAvgPool2dBackward(dx: A, dy: A, args: AdaptivePool2dArgs): void;

  /** Batch statistics of x [B, C, S]: mean [C] and biased variance [C] over the B * S values of each channel. */
  batchNormStats(mean: A, variance: A, x: A, B: number, C: number, S: number): void;
  /**
   * Running statistics in place, [C]: runningMean = (1 - momentum) runningMean + momentum mean,
   * runningVar = (1 - momentum) runningVar + momentum unbias variance.
   */
  batchNormUpdate(runningMean: A, runningVar: A, mean: A, variance: A, C: number, momentum: number, unbias: number): void;
  /** out [B, C, S] = (x - mean) / sqrt(variance + eps) weight + bias per channel; weight / bias may be null. */
  batchNormForward(out: A, x: A, mean: A, variance: A, weight: A | null, bias: A | null,
    B: number, C: number, S: number, eps: number): void;
  /**
   * Gradients of batchNormForward, written (not accumulated) where not null. `batchStats`: mean
   * and variance came from x (training), so dx = invstd w (dy - mean(dy) - xhat mean(dy xhat));
   * otherwise dx = invstd w dy.
   */
  batchNormBackward(dx: A | null, dweight: A | null, dbias: A | null, dy: A, x: A, mean: A, variance: A,
    weight: A | null, B: number, C: number, S: number, eps: number, batchStats: boolean): void;
  // ---- end pooling and batch norm

  // ---- segment ops (ops/scatter.ts on a device): rows grouped CSR-style on the host; order [E],
  // offsets [S + 1] and index [E] hold integers as floats (exact below 2^24); see backend/js/segment.ts

  /** out [S, inner] = the sum of each segment's rows of src [E, inner] in row order (0 for an empty segment). */
  segmentSum(out: A, src: A, order: A, offsets: A, S: number, inner: number): void;
  /** out [E, inner] = x [S, inner] at row index[e] (the backward of segmentSum). */
  segmentBroadcast(out: A, x: A, index: A, E: number, inner: number): void;
  /** out [E, inner] = softmax of src over the rows of each segment, per trailing element. */
  segmentSoftmax(out: A, src: A, order: A, offsets: A, S: number, inner: number): void;
  /** dx [E, inner] = y (dy - sum over the segment of dy y) (written). */
  segmentSoftmaxBackward(dx: A, y: A, dy: A, order: A, offsets: A, S: number, inner: number): void;
  // ---- end segment ops
}

/** An SGD update's settings (optim/sgd.ts's group options). */
export interface SgdStepArgs {
  lr: number; momentum: number; dampening: number; weightDecay: number; nesterov: boolean; maximize: boolean;
}

/** One parameter's part of a batched SGD update: its arrays (n elements each); buf, its momentum buffer, `first` on its first use. */
export interface SgdStepItem<A = KernelArray> {
  p: A; g: A; buf: A | null; n: number; first: boolean;
}

/**
 * An Adam / AdamW update's settings: w = p decay; g' = ±g + l2 w; m = b1 m + (1 - b1) g';
 * v = b2 v + (1 - b2) g'²; p = w - stepSize m / (sqrt(v) / bc2Sqrt + eps).
 */
export interface AdamStepArgs {
  b1: number; b2: number; eps: number; decay: number; l2: number; stepSize: number; bc2Sqrt: number; maximize: boolean;
}

/** The settings of an Adam / AdamW update that its parameter group shares (AdamStepArgs less the step's). */
export type AdamSharedArgs = Omit<AdamStepArgs, "stepSize" | "bc2Sqrt">;

/** One parameter's part of a batched Adam / AdamW update: its arrays (n elements each) and its step's scalars. */
export interface AdamStepItem<A = KernelArray> {
  p: A; g: A; m: A; v: A; vmax: A | null; n: number; stepSize: number; bc2Sqrt: number;
}

/**
 * Optimizer updates a device backend may fuse (optim/device-step.ts uses them where the backend
 * has them, else composes the update from binary kernels). Same numbers as the composed update.
 */
export interface FusedOptimizerSteps<A = KernelArray> {
  /**
   * For every item, p -= lr d (d: the decayed, momentum-averaged gradient g); buf (the momentum
   * buffer: all items or none) is written, `first` on its first use. With `scale` (one element),
   * each g is read as g * scale[0].
   */
  sgdSteps(items: readonly SgdStepItem<A>[], args: SgdStepArgs, scale?: A | null): void;
  /**
   * Adam / AdamW updates of every item's p with its moments m, v (and vmax for amsgrad: all items
   * or none); with `scale` (one element), each g is read as g * scale[0].
   */
  adamSteps(items: readonly AdamStepItem<A>[], args: AdamSharedArgs, scale?: A | null): void;
}

/**
 * A reduction a device backend may have (webgpu): acc[0] = (accumulate ? acc[0] : 0) + the sum
 * over the arrays xs[j] of the sum of xs[j][i]² over i < ns[j], each array's terms spread over the
 * device's threads, the arrays' sums added in order. The gradient clipping's norm
 * (optim/clip-device.ts) uses it where the backend has it, else a [1, n] @ [n, 1] matmul per array
 * and the scale from one-element kernels.
 */
export interface SumOfSquares<A = KernelArray> {
  sumOfSquares(acc: A, xs: readonly A[], ns: readonly number[], accumulate: boolean): void;
  /**
   * The clipping's norm and scale at once: norm[0] = the square root of the arrays' sums of
   * squares (added as sumOfSquares adds them, from 0), coef[0] = min(1, maxNorm / (norm[0] + 1e-6)),
   * each step rounded to float32 (a NaN norm gives a NaN scale).
   */
  clipNorm(norm: A, coef: A, xs: readonly A[], ns: readonly number[], maxNorm: number): void;
}

/**
 * A residual add and a layer norm in one kernel, which a post-norm transformer layer's
 * `norm(x + sublayer(x))` uses where the backend has it (webgpu) instead of an add and a layer
 * norm. The same bits as the two: sum = x + r rounded to float32, then Backend.layerNorm of it.
 */
export interface AddLayerNorm<A = KernelArray> {
  /** sum [rows, cols] = x + r; out = layerNorm(sum) with its mean and rstd [rows], as Backend.layerNorm. */
  addLayerNorm(out: A, mean: A, rstd: A, sum: A, x: A, r: A, weight: A | null, bias: A | null, rows: number, cols: number, eps: number): void;
}

/**
 * A selection a device backend may have (webgpu), which `topk` and beam search use on a device:
 * values, indices [rows, k] = each row of x [rows, n]'s k largest values and their indices (as
 * float32 numbers) in js/topk.ts's order (the lower index first among equal values, NaN last);
 * 1 <= k <= min(n, TOPK_MAX).
 */
export interface TopK<A = KernelArray> {
  topK(values: A, indices: A, x: A, rows: number, n: number, k: number): void;
}

/** The largest k a device's TopK takes. */
export const TOPK_MAX = 32;

/**
 * Scaling many arrays in place by one device scalar (webgpu: a few dispatches for all), which the
 * gradient clipping uses where the backend has it, else a binary "mul" per array.
 */
export interface ScaleArrays<A = KernelArray> {
  /** xs[j][i] *= s[0] for every j and i < ns[j]. */
  scaleArrays(xs: readonly A[], ns: readonly number[], s: A): void;
}

/**
 * Filling an array on the device (webgpu: one kernel), which fullOn / filledArray use where the
 * backend has it instead of uploading a host array of the value.
 */
export interface Fill<A = KernelArray> {
  /** out[i] = value for i < n. */
  fill(out: A, n: number, value: number): void;
}

/**
 * A product with a bias added to each of its rows in one kernel (webgpu: the GEMM's store adds
 * it), which a linear layer uses where the backend has it instead of a product and an add. The
 * same bits as the two: the product's element rounded to float32, then the bias added. Its
 * backward likewise takes the weight's and the bias's gradients in one kernel (linearGrads)
 * instead of two products.
 */
export interface MatmulBias<A = KernelArray> {
  /**
   * out [M, N] = op(a) @ op(b) + bias [N] on every row; op as Backend.matmul's transA / transB; with
   * `relu`, each value then as the relu kernel gives it (a linear layer and its relu in one pass).
   */
  matmulBias(out: A, a: A, b: A, bias: A, M: number, N: number, K: number, transA: boolean, transB: boolean, relu?: boolean): void;
  /**
   * A linear layer's weight and bias gradients at once: dw [O, I] = g^T @ x and db [O] = the
   * column sums of g (g [R, O], x [R, I], R > 0), db's sums added in row order (the bits of
   * ones [1, R] @ g).
   */
  linearGrads(dw: A, db: A, g: A, x: A, R: number, O: number, I: number): void;
}

/** An elementwise comparison (Backend.compare; ops/elementwise.ts's eq, ne, lt, le, gt, ge). */
export type CompareOp = "eq" | "ne" | "lt" | "le" | "gt" | "ge";

/** The reduction of Backend.extreme. */
export type ExtremeOp = "max" | "min";

/** A GEMM operand packed once for many products (a layer's weight at inference); only the backend that made it reads it. */
export interface PackedMatrix {
  /** B's shape as the product sees it: [K, N]. */
  readonly N: number;
  readonly K: number;
  /** The packed panels, in the layout of the instruction set `isa`. */
  readonly data: Float32Array;
  readonly isa: string;
}

/**
 * Products with a prepacked right operand, for a host backend whose GEMM packs B (native): the
 * packing every call would repeat is done once (what ONNX Runtime does when it loads a model).
 */
export interface PrepackedMatmul {
  /** B [K, N] (or [N, K] when transB) packed for the GEMM as it runs now. */
  packMatmulB(b: FloatArray, N: number, K: number, transB: boolean): PackedMatrix;
  /** Whether `packed` can be used now (it was packed for the instruction set in effect). */
  packedUsable(packed: PackedMatrix): boolean;
  /**
   * out [M, N] (=|+=) op(a) [M, K] @ B (a: [K, M] when transA), then + bias [N] on every row when
   * given (added to each tile of out as it is finished: the bits of a separate add, one pass fewer).
   */
  matmulPrepacked(out: FloatArray, a: FloatArray, packed: PackedMatrix, M: number, transA: boolean, accumulate: boolean,
    bias?: FloatArray | null): void;
}

/** A backend of either kind, as the registry holds it (ops pass it arrays from `arrayOf`). */
export type AnyBackend = Backend<KernelArray>;
