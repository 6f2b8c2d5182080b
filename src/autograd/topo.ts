/** The recorded graph under a tensor, walked the way backward() and freeGraph() need it. */
import type { Tensor } from "../tensor/tensor.js";

/**
 * Every tensor `root` was computed through that requires grad (root included), inputs before the
 * tensors made from them (so reversed, each tensor comes before its inputs). Iterative, so deep
 * graphs do not overflow the stack.
 */
export function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([root]);
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.gradFn?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i]!;
      if (c.requiresGrad && !seen.has(c)) {
        seen.add(c);
        stack.push([c, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}
