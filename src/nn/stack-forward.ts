/**
 * The forward of a stack of transformer layers, shared by TransformerEncoder and TransformerDecoder.
 * Pre-norm layers that run their class's own forward (`plainForward`) join each layer's last
 * residual add with the norm after it (the next layer's norm1, or the stack's final norm): one
 * layer-norm call that also adds, with the bits of the layer-by-layer run. Any other stack runs
 * layer by layer.
 */
import type { Tensor } from "../tensor/tensor.js";
import { LayerNorm } from "./layers.js";
import { type Module, plainForward } from "./module.js";

/** What a stack's layer offers for the joined run. */
export interface JoinableLayer extends Module {
  readonly options: { readonly normFirst: boolean };
  readonly norm1: LayerNorm;
}

/** A layer's joined step: x -> its output and, when `next` is given, next(output) (null: not computed). */
export type JoinedStep<L> = (layer: L, i: number, x: Tensor, normed: Tensor | null, next: LayerNorm | null) => { out: Tensor; normed: Tensor | null };

/**
 * x through `layers` and then `norm` (when given). `plain` runs layer i its usual way; `joined`
 * runs it given norm1(x) when the layer before computed it, and computes the norm after it.
 */
export function forwardStack<L extends JoinableLayer>(
  layers: readonly L[], cls: abstract new (...args: never[]) => L, norm: LayerNorm | null, x: Tensor,
  plain: (layer: L, i: number, x: Tensor) => Tensor, joined: JoinedStep<L>,
): Tensor {
  if (!layers.every((l) => l.options.normFirst && plainForward(l, cls) && plainForward(l.norm1, LayerNorm))) {
    layers.forEach((layer, i) => { x = plain(layer, i, x); });
    return norm ? norm.forward(x) : x;
  }
  const last = norm && plainForward(norm, LayerNorm) ? norm : null;
  let normed: Tensor | null = null;
  layers.forEach((layer, i) => {
    ({ out: x, normed } = joined(layer, i, x, normed, i + 1 < layers.length ? layers[i + 1]!.norm1 : last));
  });
  return norm ? (normed ?? norm.forward(x)) : x;
}
