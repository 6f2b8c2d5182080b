/** Op codes shared with the kernels in wasm/assembly/elementwise.ts (same order). */
import type { BinaryOp, UnaryOp } from "../backend.js";

export const unaryCode: Readonly<Record<UnaryOp, number>> = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, tanh: 5, erf: 6, abs: 7, relu: 8, sigmoid: 9,
  geluErf: 10, geluTanh: 11, sin: 12, cos: 13, square: 14, reciprocal: 15, sign: 16, elu: 17,
};

export const binaryCode: Readonly<Record<BinaryOp, number>> = {
  add: 0, sub: 1, mul: 2, div: 3, pow: 4, maximum: 5, minimum: 6, geluErfGrad: 7, reluGrad: 8,
};
