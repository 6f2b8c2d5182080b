/**
 * LSTM and GRU with torch.nn's options, shapes, gate orders and parameter names (weight_ih_l{k},
 * weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}, and the same with _reverse), so a PyTorch state dict
 * loads unchanged. Every parameter starts U(-1/sqrt(H), 1/sqrt(H)), as PyTorch.
 *
 * Layouts: input [T, B, I] ([B, T, I] with batchFirst, [T, I] unbatched); output [T, B, D*H] with
 * the forward direction first on the last dim (D = 2 when bidirectional); hN and cN are
 * [numLayers*D, B, H] ([numLayers*D, H] unbatched), ordered layer 0 forward, layer 0 reverse,
 * layer 1 forward, ... and never batch-first. Dropout (training only) acts on the outputs of every
 * layer but the last.
 *
 * ```ts
 * const lstm = new LSTM(10, 20, { numLayers: 2, batchFirst: true });
 * const x = randn([3, 5, 10]);                                      // [B, T, I]
 * const { output, hN, cN } = lstm.forward(x);                       // [3, 5, 20], [2, 3, 20], [2, 3, 20]
 * const gru = new GRU(10, 20, { bidirectional: true });
 * const r = gru.forward(randn([5, 3, 10]), zeros([2, 3, 20]));      // output [5, 3, 40], hN [2, 3, 20]
 * ```
 */
import { dropout } from "../ops/functional.js";
import { linear } from "../ops/matmul.js";
import { concat, reshape, slice, squeeze, stack, transpose, unsqueeze } from "../ops/shape.js";
import { checkDropoutP } from "../ops/util.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import { Tensor, expectTensor, zeros } from "../tensor/tensor.js";
import { uniform } from "./init.js";
import { Module } from "./module.js";
import { gruStep, lstmStep, positiveInt } from "./rnn-cell.js";

export interface RNNOptions {
  /** Stacked layers (default 1); layer k > 0 reads the outputs of layer k-1. */
  numLayers?: number;
  /** Biases bias_ih_l{k} and bias_hh_l{k} (default true). */
  bias?: boolean;
  /** input and output [B, T, *] instead of [T, B, *] (default false); hN and cN keep [L*D, B, H]. */
  batchFirst?: boolean;
  /** Dropout probability on the outputs of every layer but the last, in training (default 0). */
  dropout?: number;
  /** A second, time-reversed direction per layer (default false). */
  bidirectional?: boolean;
  generator?: Generator;
}

export interface RNNResult {
  /** [T, B, D*H] ([B, T, D*H] with batchFirst, [T, D*H] unbatched). */
  output: Tensor;
  /** Final hidden state of every layer and direction, [numLayers*D, B, H] ([numLayers*D, H] unbatched). */
  hN: Tensor;
}

export interface LSTMResult extends RNNResult {
  /** Final cell state, the layout of hN. */
  cN: Tensor;
}

/** One layer and direction's parameters. */
interface LayerWeights {
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor | null;
  biasHh: Tensor | null;
}

/** The parameters, checks and layer loop shared by LSTM (4 gates, hidden and cell state) and GRU (3 gates). */
abstract class RNNBase extends Module {
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly numDirections: number;
  private readonly generator: Generator | undefined;

  protected constructor(protected readonly op: "LSTM" | "GRU", readonly inputSize: number, readonly hiddenSize: number, opts: RNNOptions) {
    super();
    positiveInt(inputSize, "inputSize", op);
    positiveInt(hiddenSize, "hiddenSize", op);
    this.numLayers = opts.numLayers ?? 1;
    positiveInt(this.numLayers, "numLayers", op);
    this.bias = opts.bias ?? true;
    this.batchFirst = opts.batchFirst ?? false;
    this.dropout = opts.dropout ?? 0;
    checkDropoutP(this.dropout, op, "dropout");
    this.bidirectional = opts.bidirectional ?? false;
    this.numDirections = this.bidirectional ? 2 : 1;
    this.generator = opts.generator;
    const G = (op === "LSTM" ? 4 : 3) * hiddenSize, H = hiddenSize;
    const k = 1 / Math.sqrt(H), g = opts.generator;
    for (let l = 0; l < this.numLayers; l++) {
      const inSize = l === 0 ? inputSize : H * this.numDirections;
      for (let d = 0; d < this.numDirections; d++) {
        const sfx = this.suffix(l, d);
        this.registerParameter(`weight_ih${sfx}`, uniform([G, inSize], -k, k, g));
        this.registerParameter(`weight_hh${sfx}`, uniform([G, H], -k, k, g));
        if (this.bias) {
          this.registerParameter(`bias_ih${sfx}`, uniform([G], -k, k, g));
          this.registerParameter(`bias_hh${sfx}`, uniform([G], -k, k, g));
        }
      }
    }
  }

  private suffix(layer: number, dir: number): string {
    return `_l${layer}${dir ? "_reverse" : ""}`;
  }

  /** The parameters of layer `layer`, direction `dir`, looked up by their registered names. */
  protected layerWeights(layer: number, dir: number): LayerWeights {
    const own = new Map(this.namedParameters());
    const sfx = this.suffix(layer, dir);
    const get = (n: string): Tensor | null => own.get(`${n}${sfx}`) ?? null;
    const weightIh = get("weight_ih"), weightHh = get("weight_hh");
    if (!weightIh || !weightHh) throw new ValueError(this.op, "parameters", `weight_ih${sfx} and weight_hh${sfx}`, "missing");
    return { weightIh, weightHh, biasIh: get("bias_ih"), biasHh: get("bias_hh") };
  }

  /** input as time-major [T, B, I], plus whether it was batched. */
  protected timeMajor(input: Tensor): { x: Tensor; batched: boolean } {
    expectTensor(input, "input", this.op);
    if (input.dtype !== "float32" && input.dtype !== "float64") throw new DTypeError(this.op, "input", "float32 or float64", input.dtype);
    const I = this.inputSize;
    if ((input.rank !== 2 && input.rank !== 3) || input.shape[input.rank - 1] !== I) {
      throw new ShapeError(this.op, "input", `${this.batchFirst ? `[B, T, ${I}]` : `[T, B, ${I}]`} or [T, ${I}]`, fmtShape(input.shape));
    }
    const x = input.rank === 2 ? unsqueeze(input, 1) : this.batchFirst ? transpose(input, 0, 1) : input; // [T, B, I]
    if (x.shape[0] === 0) throw new ShapeError(this.op, "input", "at least one time step", fmtShape(input.shape));
    return { x, batched: input.rank === 3 };
  }

  /** An initial state [L*D, B, H] ([L*D, H] unbatched) as [L*D, B, H]; zeros when absent. */
  protected initialState(t: Tensor | null | undefined, arg: string, x: Tensor, batched: boolean): Tensor {
    const LD = this.numLayers * this.numDirections, B = x.shape[1]!, H = this.hiddenSize;
    if (t === null || t === undefined) return zeros([LD, B, H], { dtype: x.dtype });
    expectTensor(t, arg, this.op);
    const exp = batched ? [LD, B, H] : [LD, H];
    if (t.rank !== exp.length || t.shape.some((d, i) => d !== exp[i])) throw new ShapeError(this.op, arg, fmtShape(exp), fmtShape(t.shape));
    if (t.dtype !== x.dtype) throw new DTypeError(this.op, arg, `${x.dtype} (the dtype of input)`, t.dtype);
    return batched ? t : unsqueeze(t, 1);
  }

  /**
   * Runs every layer and direction over time-major x [T, B, I] from the states s0 [L*D, B, H]
   * (c0 too for LSTM); returns output [T, B, D*H] and the final states [L*D, B, H].
   */
  protected run(x: Tensor, h0: Tensor, c0: Tensor | null): { output: Tensor; hN: Tensor; cN: Tensor | null } {
    const T = x.shape[0]!, B = x.shape[1]!, H = this.hiddenSize, D = this.numDirections;
    const pick = (s: Tensor, i: number): Tensor => reshape(slice(s, 0, i, i + 1), [B, H]); // [B, H]
    const hN: Tensor[] = [], cN: Tensor[] = [];
    let layerIn = x; // [T, B, I or D*H]
    for (let l = 0; l < this.numLayers; l++) {
      const dirOut: Tensor[] = [];
      for (let d = 0; d < D; d++) {
        const w = this.layerWeights(l, d);
        const xp = linear(layerIn, w.weightIh, w.biasIh); // [T, B, G*H]: every step's input projection at once
        const G = xp.shape[2]!;
        let h = pick(h0, l * D + d), c = c0 ? pick(c0, l * D + d) : null; // [B, H]
        const steps = new Array<Tensor>(T);
        for (let s = 0; s < T; s++) {
          const t = d === 0 ? s : T - 1 - s;
          const xt = reshape(slice(xp, 0, t, t + 1), [B, G]); // [B, G*H]
          if (c) ({ h, c } = lstmStep(xt, h, c, w.weightHh, w.biasHh));
          else h = gruStep(xt, h, w.weightHh, w.biasHh);
          steps[t] = h;
        }
        dirOut.push(stack(steps, 0)); // [T, B, H]
        hN.push(h);
        if (c) cN.push(c);
      }
      layerIn = D === 1 ? dirOut[0]! : concat(dirOut, -1); // [T, B, D*H]
      if (l < this.numLayers - 1 && this.dropout > 0 && this.training) {
        layerIn = dropout(layerIn, this.dropout, { training: true, ...(this.generator ? { generator: this.generator } : {}) });
      }
    }
    return { output: layerIn, hN: stack(hN, 0), cN: c0 ? stack(cN, 0) : null };
  }

  /** output [T, B, *] and states [L*D, B, H] back to the caller's layout. */
  protected restore(t: { output: Tensor; hN: Tensor; cN: Tensor | null }, batched: boolean): { output: Tensor; hN: Tensor; cN: Tensor | null } {
    if (!batched) return { output: squeeze(t.output, 1), hN: squeeze(t.hN, 1), cN: t.cN ? squeeze(t.cN, 1) : null };
    return { output: this.batchFirst ? transpose(t.output, 0, 1) : t.output, hN: t.hN, cN: t.cN };
  }
}

/** torch.nn.LSTM: forward(input, [h0, c0]?) -> { output, hN, cN }. */
export class LSTM extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNOptions = {}) {
    super("LSTM", inputSize, hiddenSize, opts);
  }

  /**
   * input [T, B, I] ([B, T, I] with batchFirst, [T, I] unbatched); hx = [h0, c0], each
   * [numLayers*D, B, H] ([numLayers*D, H] unbatched), zeros when absent.
   */
  forward(input: Tensor, hx?: readonly [Tensor, Tensor] | null): LSTMResult {
    const { x, batched } = this.timeMajor(input);
    if (hx !== null && hx !== undefined && (!Array.isArray(hx) || hx.length !== 2)) {
      throw new ValueError(this.op, "hx", "a pair [h0, c0]", String(hx));
    }
    const h0 = this.initialState(hx?.[0], "h0", x, batched);
    const c0 = this.initialState(hx?.[1], "c0", x, batched);
    const r = this.restore(this.run(x, h0, c0), batched);
    return { output: r.output, hN: r.hN, cN: r.cN! };
  }
}

/** torch.nn.GRU: forward(input, h0?) -> { output, hN }. */
export class GRU extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNOptions = {}) {
    super("GRU", inputSize, hiddenSize, opts);
  }

  /** input [T, B, I] ([B, T, I] with batchFirst, [T, I] unbatched); h0 [numLayers*D, B, H] ([numLayers*D, H] unbatched), zeros when absent. */
  forward(input: Tensor, h0?: Tensor | null): RNNResult {
    const { x, batched } = this.timeMajor(input);
    const r = this.restore(this.run(x, this.initialState(h0, "h0", x, batched), null), batched);
    return { output: r.output, hN: r.hN };
  }
}
