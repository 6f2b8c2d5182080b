/**
 * The small classifier and its batches shared by the fit-on-a-device tests (fit-device.test.ts,
 * fit-device-eval.test.ts): x [N, E] -> logits [N, C] through layer norm, a GELU MLP; the class is
 * how many of the first two features are positive (learnable). The same batches on every run, each
 * step's drawn from its own generator.
 *
 * ```ts
 * const model = new Net(1);
 * const { x, y } = batchAt(0); // x [8, 6], y [8] int32 in 0..2
 * ```
 */
import { LayerNorm, Linear } from "../../src/nn/layers.js";
import { Module } from "../../src/nn/module.js";
import { gelu } from "../../src/ops/elementwise.js";
import { Generator } from "../../src/tensor/rng.js";
import { randn, Tensor } from "../../src/tensor/tensor.js";

export const N = 8, E = 6, C = 3;

export class Net extends Module {
  readonly ln: LayerNorm; readonly up: Linear; readonly down: Linear;
  constructor(seed: number) {
    super();
    const generator = new Generator(seed);
    this.ln = this.registerModule("ln", new LayerNorm(E));
    this.up = this.registerModule("up", new Linear(E, 2 * E, { generator }));
    this.down = this.registerModule("down", new Linear(2 * E, C, { generator }));
  }
  forward(x: Tensor): Tensor {
    return this.down.forward(gelu(this.up.forward(this.ln.forward(x)))); // [N, C]
  }
}

export interface Batch { x: Tensor; y: Tensor }
export const batchAt = (s: number): Batch => {
  const x = randn([N, E], { generator: new Generator(1000 + s) });
  const d = x.data;
  return { x, y: new Tensor(Int32Array.from({ length: N }, (_, i) => Number(d[i * E]! > 0) + Number(d[i * E + 1]! > 0)), [N], "int32") };
};
