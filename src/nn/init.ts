/**
 * Parameter initializers with PyTorch's formulas (nn.init), drawing from the seeded generator.
 *
 * ```ts
 * const w = xavierUniform([12, 4]); // U(-a, a), a = sqrt(6 / (fan_in + fan_out))
 * ```
 */
import { allocate } from "../tensor/dtype.js";
import { defaultGenerator, type Generator } from "../tensor/rng.js";
import { numel, type Shape } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";

function fans(shape: Shape): [number, number] {
  if (shape.length < 2) return [shape[0] ?? 1, shape[0] ?? 1];
  const rf = numel(shape.slice(2));
  return [shape[1]! * rf, shape[0]! * rf];
}

export function uniform(shape: Shape, low: number, high: number, gen: Generator = defaultGenerator): Tensor {
  const d = allocate("float32", numel(shape));
  gen.fillUniform(d, low, high);
  return new Tensor(d, shape, "float32");
}

export function normal(shape: Shape, mean: number, std: number, gen: Generator = defaultGenerator): Tensor {
  const d = allocate("float32", numel(shape));
  gen.fillNormal(d, mean, std);
  return new Tensor(d, shape, "float32");
}

export function xavierUniform(shape: Shape, gain = 1, gen?: Generator): Tensor {
  const [fi, fo] = fans(shape);
  const a = gain * Math.sqrt(6 / (fi + fo));
  return uniform(shape, -a, a, gen);
}

export function xavierNormal(shape: Shape, gain = 1, gen?: Generator): Tensor {
  const [fi, fo] = fans(shape);
  return normal(shape, 0, gain * Math.sqrt(2 / (fi + fo)), gen);
}

/**
 * nn.init.kaiming_uniform_ with mode fan_in and the leaky_relu gain sqrt(2 / (1 + a^2)):
 * U(-b, b), b = gain * sqrt(3 / fan_in). With a = sqrt(5) (nn.Conv2d's default) b = 1 / sqrt(fan_in).
 */
export function kaimingUniform(shape: Shape, a = 0, gen?: Generator): Tensor {
  const [fi] = fans(shape);
  const b = fi > 0 ? Math.sqrt(2 / (1 + a * a)) * Math.sqrt(3 / fi) : 0;
  return uniform(shape, -b, b, gen);
}

/** nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias alike. */
export function linearDefault(shape: Shape, fanIn: number, gen?: Generator): Tensor {
  const b = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return uniform(shape, -b, b, gen);
}

export function zerosParam(shape: Shape): Tensor {
  return new Tensor(allocate("float32", numel(shape)), shape, "float32");
}

export function onesParam(shape: Shape): Tensor {
  return new Tensor(allocate("float32", numel(shape)).fill(1), shape, "float32");
}
