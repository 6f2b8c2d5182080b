import { describe, test } from "node:test";
import { div, randn, sum, type Tensor } from "../../src/index.js";
import { favorFeaturesOp } from "../../src/ops/favor-features.js";
import { assertClose, assertGrad, r64 } from "../helpers.js";

/** phi by the formula, element by element (float64). */
function reference(x: Tensor, omega: Tensor, scale: number, perRow: boolean): number[] {
  const m = omega.shape[0]!, D = omega.shape[1]!, N = x.shape[x.rank - 2]!, rows = x.size / D;
  const xd = x.data, wd = omega.data;
  const logits: number[] = [];
  for (let r = 0; r < rows; r++) {
    let nrm = 0;
    for (let d = 0; d < D; d++) nrm += xd[r * D + d]! * xd[r * D + d]!;
    for (let j = 0; j < m; j++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += xd[r * D + d]! * wd[j * D + d]!;
      logits.push(Math.sqrt(scale) * dot - 0.5 * scale * nrm);
    }
  }
  const span = perRow ? m : N * m;
  return logits.map((l, i) => {
    const b = Math.floor(i / span);
    const mx = Math.max(...logits.slice(b * span, (b + 1) * span));
    return Math.exp(l - mx) / Math.sqrt(m);
  });
}

describe("favorFeaturesOp", () => {
  for (const perRow of [true, false]) {
    test(`matches the formula, stabilized per ${perRow ? "row" : "matrix"} (float64 and float32)`, () => {
      const x = r64([2, 3, 5, 4]), omega = r64([6, 4]);
      const want = reference(x, omega, 0.5, perRow);
      assertClose(favorFeaturesOp(x, omega, 0.5, perRow).data, want, 1e-12, 1e-12);
      const x32 = randn([2, 5, 4]), w32 = randn([6, 4]);
      assertClose(favorFeaturesOp(x32, w32, 0.5, perRow).data, reference(x32, w32, 0.5, perRow), 1e-6, 1e-4);
    });
    test(`gradient where the stabilizer cancels (normalized per ${perRow ? "row" : "matrix"})`, () => {
      // stab is held constant by design; finite differences see it move, so check phi / its sum
      // over the stabilizer's span, where stab cancels exactly as in the attention
      const omega = r64([6, 4]).requiresGrad_(false);
      assertGrad((x) => {
        const phi = favorFeaturesOp(x!, omega, 0.7, perRow);
        return div(phi, sum(phi, perRow ? [-1] : [-2, -1], { keepdim: true }));
      }, [r64([2, 5, 4], 0.5)]);
    });
  }
});
