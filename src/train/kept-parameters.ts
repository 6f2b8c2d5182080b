/**
 * The parameters of the best epoch so far, kept where they live: a host parameter's values copied
 * on the host; a device parameter's copied into a new array on its device (one copy there, nothing
 * read back), the copies of the epoch it replaces given back to the store at once. `restore`
 * writes them into the parameters in place (a device parameter from its device copy) and gives the
 * copies back, so a run on a device reads its parameters back only when it saves them.
 *
 * ```ts
 * const kept = new KeptParameters();
 * if (valid > best) kept.keep(model.parameters());   // each epoch that improves
 * kept.restore(model.parameters());                  // once, after the last epoch
 * ```
 */
import { copyTensor, copyValues, writeValues } from "../backend/tensor-arrays.js";
import { ValueError } from "../tensor/errors.js";
import { expectTensor, type Tensor } from "../tensor/tensor.js";

/** A parameter's kept values: a host copy of its data, or a copy on its device. */
type Kept = { host: Float32Array | Float64Array } | { device: Tensor };

export class KeptParameters {
  private copies: Kept[] | null = null;

  /** True once `keep` has run (and until `restore` or `release`). */
  get holds(): boolean {
    return this.copies !== null;
  }

  /** Copies every tensor of `params` where it lives, replacing (and giving back) the copies held. */
  keep(params: readonly Tensor[]): void {
    params.forEach((p, i) => expectTensor(p, `params[${i}]`, "KeptParameters.keep"));
    this.release();
    this.copies = params.map((p): Kept => (p.device === null ? { host: (p.data as Float32Array | Float64Array).slice() } : { device: copyTensor(p) }));
  }

  /** Writes the kept values into `params` (the tensors kept, in order), then gives the copies back; a no-op when none are held. */
  restore(params: readonly Tensor[]): void {
    const copies = this.copies;
    if (copies === null) return;
    if (params.length !== copies.length) throw new ValueError("KeptParameters.restore", "params", `${copies.length} tensors (as kept)`, `${params.length}`);
    params.forEach((p, i) => expectTensor(p, `params[${i}]`, "KeptParameters.restore"));
    params.forEach((p, i) => {
      const c = copies[i]!;
      if ("host" in c) writeValues(p, c.host);
      else copyValues(p, c.device);
    });
    this.release();
  }

  /** Gives the device copies back to their store and drops the host ones. */
  release(): void {
    for (const c of this.copies ?? []) if ("device" in c) c.device.store!.release(c.device.device!);
    this.copies = null;
  }
}
