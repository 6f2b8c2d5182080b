/**
 * Models and a training loop shared by the device-path tests in Node (device-conv.test.ts, on the
 * host-memory device backend) and the WebGPU training page in Chromium (webgpu-train-page.ts,
 * bundled by esbuild for the browser: so nothing here imports node: modules).
 *
 * ```ts
 * const model = new SmallCnn(new Generator(1)); // x [B, 3, 11, 9] -> logits [B, 4]
 * const losses = await trainSteps(model, new SGD(model.parameters(), { lr: 0.1 }), x, y, 4);
 * ```
 */
import { backward } from "../../src/autograd/backward.js";
import { freeGraph } from "../../src/autograd/free-graph.js";
import { AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, MaxPool2d } from "../../src/nn/conv.js";
import { Linear } from "../../src/nn/layers.js";
import { Module } from "../../src/nn/module.js";
import { relu } from "../../src/ops/elementwise.js";
import { crossEntropy } from "../../src/ops/functional.js";
import { reshape } from "../../src/ops/shape.js";
import type { Optimizer } from "../../src/optim/optimizer.js";
import type { Generator } from "../../src/tensor/rng.js";
import type { Tensor } from "../../src/tensor/tensor.js";

/**
 * x [B, 3, 11, 9] -> logits [B, 4]: a convolution with padding, batch norm, max pooling with
 * ceilMode, a grouped strided dilated convolution without bias, average pooling (padding, ceilMode,
 * countIncludePad false), adaptive average pooling and a linear classifier.
 */
export class SmallCnn extends Module {
  readonly c1: Conv2d; readonly bn: BatchNorm2d; readonly pool: MaxPool2d; readonly c2: Conv2d; readonly avg: AvgPool2d;
  readonly gap: AdaptiveAvgPool2d; readonly fc: Linear;
  constructor(g: Generator) {
    super();
    this.c1 = this.registerModule("c1", new Conv2d(3, 6, 3, { padding: 1, generator: g }));
    this.bn = this.registerModule("bn", new BatchNorm2d(6));
    this.pool = this.registerModule("pool", new MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }));
    this.c2 = this.registerModule("c2", new Conv2d(6, 6, 3, { groups: 3, stride: [2, 1], dilation: [1, 2], padding: 2, bias: false, generator: g }));
    this.avg = this.registerModule("avg", new AvgPool2d(2, { padding: 1, ceilMode: true, countIncludePad: false }));
    this.gap = this.registerModule("gap", new AdaptiveAvgPool2d([2, 1]));
    this.fc = this.registerModule("fc", new Linear(12, 4, { generator: g }));
  }
  forward(x: Tensor): Tensor {
    const h = this.pool.forward(relu(this.bn.forward(this.c1.forward(x)))); // [B, 6, 6, 5]
    const a = this.gap.forward(this.avg.forward(relu(this.c2.forward(h)))); // [B, 6, 2, 1]
    return this.fc.forward(reshape(a, [x.shape[0]!, 12])); // [B, 4]
  }
}

/**
 * `steps` updates of `model` on one batch: zeroGrad, cross entropy of `model.forward(x)` against
 * the class indices `y`, backward, the optimizer's step, the loss read back, the graph freed.
 * Returns the losses.
 */
export async function trainSteps(model: { forward(x: Tensor): Tensor }, opt: Optimizer, x: Tensor, y: Tensor, steps: number): Promise<number[]> {
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    const loss = crossEntropy(model.forward(x), y);
    backward(loss);
    opt.step();
    losses.push(Number((await loss.read())[0]));
    freeGraph(loss);
  }
  return losses;
}
