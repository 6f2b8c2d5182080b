/**
 * Many items' arrays in few dispatches, each distinct buffer bound once. Items whose arrays are
 * views of one buffer (an optimizer's moments, kept in one flat array for all its parameters)
 * share that buffer's binding, so one dispatch takes as many items as the device's storage
 * bindings allow; items whose arrays each have a buffer of their own take one binding per array,
 * as before. A shared buffer is bound whole (offset 0 to its end) and each array is reached
 * through its element offset, a parameter of the dispatch; an array in a buffer larger than a
 * binding may be keeps a binding (its own window) of its own.
 *
 * ```ts
 * const plans = planBindings(items, (it) => [{ arr: it.p, out: true }, { arr: it.g, out: false }], [], 12, 8, maxBytes);
 * for (const { items, outs, ins, at } of plans) ...  // at[j][r]: item j's role r as { slot, offset }
 * ```
 */
import type { GpuArray } from "./context.js";

/** One array an item reads or writes (`out`). */
export interface Use { arr: GpuArray; out: boolean }

/** Where an item's array is reached: its binding (outputs first, then inputs) and its element offset there. */
export interface Place { slot: number; offset: number }

/** One dispatch's items and bindings. */
export interface BindingPlan<T> {
  items: T[];
  /** The bindings written (read_write), then those only read. */
  outs: GpuArray[];
  ins: GpuArray[];
  /** at[j][r]: where item j's r-th array (in `uses` order) is; common[r]: where the r-th common array is. */
  at: Place[][];
  common: Place[];
}

interface Binding { key: object; arr: GpuArray; out: boolean }

/** Buffer sizes seen (GPUBuffer.size is a call into the implementation each time: dawn.node's costs microseconds). */
const sizes = new WeakMap<GPUBuffer, number>();

/** The bytes of `buffer`. */
export function bufferBytes(buffer: GPUBuffer): number {
  let n = sizes.get(buffer);
  if (n === undefined) sizes.set(buffer, (n = buffer.size));
  return n;
}

/** `arr` as an array of its whole buffer (offset 0 to the end), which a binding holds whole. */
export function wholeBuffer(arr: GpuArray): GpuArray {
  return { buffer: arr.buffer, offset: 0, length: bufferBytes(arr.buffer) / 4 };
}

/**
 * `items` in order, split into dispatches of at most `maxItems` items and `maxSlots` bindings
 * (the `common` arrays, bound in every dispatch, included). A buffer written through one use and
 * read through another in the same dispatch is bound once, writable.
 */
export function planBindings<T>(items: readonly T[], uses: (item: T) => readonly Use[], common: readonly Use[], maxSlots: number,
  maxItems: number, maxBindingBytes: number): BindingPlan<T>[] {
  // a buffer a binding may hold whole is shared by every array in it; a larger one's arrays keep their own windows
  const keyOf = (a: GpuArray): object => (bufferBytes(a.buffer) <= maxBindingBytes ? a.buffer : a);
  const plans: BindingPlan<T>[] = [];
  let group: T[] = [], groupUses: (readonly Use[])[] = [], groupKeys: object[][] = [], bound = new Map<object, Binding>();
  const bind = (u: Use, key: object): void => {
    const b = bound.get(key);
    if (b) b.out ||= u.out;
    else bound.set(key, { key, arr: key === u.arr ? u.arr : wholeBuffer(u.arr), out: u.out });
  };
  const commonKeys = common.map((u) => keyOf(u.arr));
  const open = (): void => {
    group = [];
    groupUses = [];
    groupKeys = [];
    bound = new Map();
    common.forEach((u, i) => bind(u, commonKeys[i]!));
  };
  const close = (): void => {
    if (group.length === 0) return;
    const outs: GpuArray[] = [], ins: GpuArray[] = [], slotOf = new Map<object, number>();
    for (const b of bound.values()) if (b.out) slotOf.set(b.key, outs.push(b.arr) - 1);
    for (const b of bound.values()) if (!b.out) slotOf.set(b.key, outs.length + ins.push(b.arr) - 1);
    const place = (u: Use, key: object): Place => ({ slot: slotOf.get(key)!, offset: key === u.arr ? 0 : u.arr.offset });
    plans.push({ items: group, outs, ins, at: groupUses.map((us, j) => us.map((u, r) => place(u, groupKeys[j]![r]!))),
      common: common.map((u, i) => place(u, commonKeys[i]!)) });
  };
  open();
  for (const it of items) {
    const us = uses(it), keys = us.map((u) => keyOf(u.arr));
    let fresh = 0;
    for (let r = 0; r < keys.length; r++) if (!bound.has(keys[r]!) && keys.indexOf(keys[r]!) === r) fresh++;
    if (group.length > 0 && (group.length >= maxItems || bound.size + fresh > maxSlots)) {
      close();
      open();
    }
    us.forEach((u, r) => bind(u, keys[r]!));
    group.push(it);
    groupUses.push(us);
    groupKeys.push(keys);
  }
  close();
  return plans;
}
