/** rope family: applyRotary on q and k at the case's position_ids. */
import { applyRotary } from "../../../src/nn/rope.js";
import { cfg, type FamilyRunner } from "../fixture.js";

export const rope: FamilyRunner = ({ c, inputs }) => {
  const { q, k, position_ids: pos } = inputs;
  if (!q || !k || !pos) throw new Error("inputs q, k, position_ids expected");
  const layout = cfg(c, "layout", "string");
  if (layout !== "half" && layout !== "interleaved") throw new Error(`unknown layout ${layout}`);
  const D = q.shape[q.rank - 1]!;
  const opts = { rotaryDim: cfg(c, "rotary_dim", "number", D), base: cfg(c, "base", "number", 10000), layout } as const;
  return { outputs: { q_rot: applyRotary(q, pos, opts), k_rot: applyRotary(k, pos, opts) } };
};
