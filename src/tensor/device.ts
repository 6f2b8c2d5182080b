/**
 * Device storage of a tensor, seen from the tensor layer: an opaque array that lives in another
 * memory (a GPU buffer) and the store that made it, which can read it back and take it back.
 * The tensor layer imports nothing from backend/; a device backend (backend/webgpu/) implements
 * `DeviceStore` over its own array type.
 *
 * ```ts
 * const t = Tensor.onDevice(arr, store, [2, 3], "float32");
 * t.data;            // throws DeviceSyncError
 * await t.read();    // Float32Array [6], cached: t.data now returns it
 * await readAll([t, u]); // both copies cached with one store.readMany (tensor/read-all.ts)
 * ```
 */

/** An array in device memory: `length` float32 elements (the rest is the store's business). */
export interface DeviceArray {
  readonly length: number;
  /** For a view (Backend.view): the array it was taken from, which it keeps alive. */
  readonly base?: DeviceArray;
  /**
   * How many tensors were ever made over this array or its views (tensor/pool.ts counts them on
   * the array views are taken from: freeGraph gives an array back only when all of them are done).
   */
  tensors?: number;
}

/** What a tensor needs from the backend that holds its device array. */
export interface DeviceStore<A extends DeviceArray = DeviceArray> {
  /** The backend's name, for messages. */
  readonly name: string;
  /** The contents of `arr` once the work recorded before has run. */
  read(arr: A): Promise<Float32Array>;
  /**
   * The contents of every array of `arrs` (in order) once the work recorded before has run, in one
   * transfer where the device allows (webgpu: one submission, one staging buffer per maxBufferSize).
   */
  readMany(arrs: readonly A[]): Promise<Float32Array[]>;
  /** Gives `arr` back to the store's pool (work already recorded still sees it). */
  release(arr: A): void;
  /**
   * Gives `arr` back at the store's next `flush` or read: for an upload that one op made for its
   * own kernels (`arrayOf` of a host tensor) and that nothing holds after them. Ops are synchronous,
   * so no flush or read falls between an upload and the kernels that use it.
   */
  releaseAtFlush(arr: A): void;
  /** Submits the work recorded so far (the optimizers' step calls it once per step). */
  flush(): void;
}
