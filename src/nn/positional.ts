/**
 * Sinusoidal positional encoding (Vaswani et al.), computed in float64:
 * PE[pos, 2i] = sin(pos / base^(2i/d)), PE[pos, 2i+1] = cos(pos / base^(2i/d)).
 *
 * ```ts
 * const pe = sinusoidalPositionalEncoding(128, 64); // [128, 64]
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";

export function sinusoidalPositionalEncoding(maxLen: number, dModel: number, base = 10000): Tensor {
  for (const [arg, v] of [["maxLen", maxLen], ["dModel", dModel]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ValueError("sinusoidalPositionalEncoding", arg, "a positive integer", String(v));
  }
  if (!(base > 0)) throw new ValueError("sinusoidalPositionalEncoding", "base", "a positive number", String(base));
  const pe = new Float32Array(maxLen * dModel);
  for (let pos = 0; pos < maxLen; pos++) {
    for (let j = 0; j < dModel; j++) {
      const i2 = j - (j % 2); // 2i
      const angle = pos / Math.pow(base, i2 / dModel);
      pe[pos * dModel + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return new Tensor(pe, [maxLen, dModel], "float32");
}
