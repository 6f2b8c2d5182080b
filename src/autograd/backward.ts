/**
 * Reverse mode: walks the recorded graph from a tensor in reverse topological order and
 * accumulates into `.grad` of leaves that require grad (and of tensors that retain grad).
 *
 * ```ts
 * const w = randn([3], { requiresGrad: true });
 * backward(sum(mul(w, w)));
 * w.grad; // 2w
 * ```
 */
import { backendOf, copyTensor, fullOn } from "../backend/tensor-arrays.js";
import { allocate } from "../tensor/dtype.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { sameShape } from "../tensor/shape.js";
import { trackBorn } from "../tensor/pool.js";
import { Tensor } from "../tensor/tensor.js";
import { addTensors, checkGradShape, GradSums, zerosLike } from "./grad-sums.js";
import { noGrad } from "./graph.js";
import { Recycler } from "./recycle.js";
import { noteGradMade } from "./release-grads.js";
import { topologicalOrder } from "./topo.js";

/** Computes gradients of `root` (a scalar, or any tensor given its `gradient`). */
export function backward(root: Tensor, gradient?: Tensor): void {
  if (!root.requiresGrad) {
    throw new ValueError("backward", "tensor", "a tensor that requires grad", "a tensor without a gradient graph");
  }
  // gradient temporaries go back to the buffer pool as soon as nothing pending refers to them
  const rc = new Recycler();
  let seed: Tensor;
  if (gradient === undefined) {
    if (root.size !== 1) throw new ShapeError("backward", "gradient", `given for non-scalar output ${fmtShape(root.shape)}`, "none");
    // on a device the seed is the pass's own (born tracked), given back once used like its other temporaries
    if (root.device !== null) seed = trackBorn(rc.born, () => fullOn(backendOf(root), root.shape, root.dtype, 1));
    else {
      const d = allocate(root.dtype, 1);
      d[0] = 1;
      seed = new Tensor(d, root.shape, root.dtype);
    }
  } else {
    if (!sameShape(gradient.shape, root.shape)) throw new ShapeError("backward", "gradient", fmtShape(root.shape), fmtShape(gradient.shape));
    seed = gradient;
  }
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  const sums = new GradSums();
  for (const t of order) rc.pin(t);
  rc.ref(seed);
  noGrad(() => trackBorn(rc.born, () => {
    for (let n = order.length - 1; n >= 0; n--) {
      const t = order[n]!;
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      rc.unref(g);
      if (t.gradFn === null) {
        if (t.grad === null) {
          // an op's gradient that nothing else refers to becomes the leaf's own, uncopied
          t.grad = rc.exclusive(g) ? sums.release(g) : sums.take(g);
          if (t.grad === g) rc.pin(g);
          else rc.drop(g);
        } else {
          t.grad = addTensors(zerosLike(t.grad), t.grad, g);
          rc.pin(t.grad);
          rc.drop(g);
        }
        noteGradMade(t.grad); // its buffer is its own: releaseGrads may give it back
        continue;
      }
      if (t.retainsGrad) {
        t.grad = t.grad === null ? copyTensor(g) : addTensors(zerosLike(t.grad), t.grad, g);
        rc.pin(t.grad);
      }
      const fn = t.gradFn;
      const gi = fn.backward(sums.release(g));
      const dead: Tensor[] = [g];
      for (let k = 0; k < fn.inputs.length; k++) {
        const inp = fn.inputs[k]!;
        const gk = gi[k];
        if (!gk) continue;
        const gt = gk instanceof Tensor ? gk : gk.block;
        if (!inp.requiresGrad) {
          dead.push(gt);
          continue;
        }
        checkGradShape(gk, inp, fn.op, k);
        const prev = grads.get(inp) ?? null;
        const acc = sums.add(prev, gk, inp);
        if (acc !== prev) {
          if (prev !== null) {
            rc.unref(prev);
            dead.push(prev);
          }
          rc.ref(acc);
        }
        if (acc !== gt) dead.push(gt);
        grads.set(inp, acc);
      }
      for (const d of dead) rc.drop(d);
    }
  }));
}

/** Clears `.grad` of the given tensors. */
export function zeroGrad(tensors: Iterable<Tensor>): void {
  for (const t of tensors) t.grad = null;
}

declare module "../tensor/tensor.js" {
  interface Tensor {
    /** Reverse-mode gradient of this tensor (see autograd/backward.ts). */
    backward(gradient?: Tensor): void;
  }
}
Tensor.prototype.backward = function (this: Tensor, gradient?: Tensor): void {
  backward(this, gradient);
};
