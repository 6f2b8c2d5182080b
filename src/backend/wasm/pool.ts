/**
 * Fork-join over shared memory for the threaded wasm module. The backend's API is synchronous, so a
 * job is: write the kernel and its arguments into the control block, bump the generation and
 * notify the workers, run part 0 here, then wait for the pending count to reach 0 (Atomics.wait
 * where this thread may block: Node, workers; a spin on Atomics.load on a browser's main thread).
 *
 * ```ts
 * const pool = new WorkerPool(module, memory, ctl, 4, platform);
 * pool.startSync();                                  // Node; browsers: await pool.start()
 * pool.run(kernelIndex, args, 4, () => kernel(...args, 0, 4));
 * pool.dispose();
 * ```
 *
 * Workers start at the first job (or at `start`), are unref'd in Node (they never keep a process
 * alive), and end at `dispose`. The memory grows on the main thread only, between jobs.
 */
import { ARGS_OFFSET, FAILED, GEN, KERNEL, MAX_ARGS, NARGS, PARTS, PENDING, READY, STOP } from "./control.js";
import { partKernelNames, type WasmMemory } from "./exports.js";
import type { ThreadWorker, WasmPlatform } from "./platform.js";
import { SPIN, workerSource } from "./worker-source.js";

/** How long a start may take before the pool gives up (and its backend runs on one thread). */
const START_TIMEOUT_MS = 10_000;

/** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
function canBlock(ctl: Int32Array): boolean {
  try {
    Atomics.wait(ctl, FAILED, -1, 0); // FAILED is never -1: returns "not-equal" at once where allowed
    return true;
  } catch {
    return false;
  }
}

type PoolState = "idle" | "starting" | "ready" | "failed" | "disposed";

export class WorkerPool {
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private readonly blocking: boolean;
  private workers: ThreadWorker[] = [];
  private state: PoolState = "idle";

  /**
   * `threads` counts this thread too (threads - 1 workers); `ctl` is the control block's byte
   * offset in `memory` (CONTROL_BYTES reserved there).
   */
  constructor(private readonly module: object, private readonly memory: WasmMemory, private readonly ctlOffset: number,
    readonly threads: number, private readonly platform: WasmPlatform) {
    const buf = memory.buffer;
    this.ctl = new Int32Array(buf, ctlOffset, ARGS_OFFSET / 4);
    this.args = new Float64Array(buf, ctlOffset + ARGS_OFFSET, MAX_ARGS);
    this.ctl.fill(0);
    this.blocking = canBlock(this.ctl);
  }

  /** False once starting failed or after dispose: the backend then runs on its own thread only. */
  get usable(): boolean {
    return this.state !== "failed" && this.state !== "disposed";
  }

  /** True once every worker instantiated the module (false while starting, after failure or dispose). */
  get ready(): boolean {
    return this.state === "ready";
  }

  private spawn(): void {
    this.state = "starting";
    for (let tid = 1; tid < this.threads; tid++) {
      const w = this.platform.spawn(workerSource, () => {
        if (this.state === "starting") this.state = "failed";
      });
      this.workers.push(w);
      w.postMessage({ module: this.module, memory: this.memory, ctl: this.ctlOffset, tid, kernels: partKernelNames });
    }
  }

  private trySpawn(): boolean {
    try {
      this.spawn();
      return true;
    } catch {
      return this.fail();
    }
  }

  /** The state, read afresh (it changes in callbacks and awaits that the type checker does not see). */
  private status(): PoolState {
    return this.state;
  }

  private allReady(): boolean {
    return Atomics.load(this.ctl, READY) === this.threads - 1;
  }

  /** Starts the workers and blocks until they are ready (where workers start while blocked); false on failure. */
  startSync(): boolean {
    if (this.state === "ready") return true;
    if (this.state !== "idle" || !this.blocking || !this.platform.startsWhileBlocked) return false;
    if (!this.trySpawn()) return false;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const n = Atomics.load(this.ctl, READY);
      if (n === this.threads - 1) break;
      const left = deadline - Date.now();
      if (left <= 0 || this.status() !== "starting" || Atomics.load(this.ctl, FAILED) !== 0) return this.fail();
      Atomics.wait(this.ctl, READY, n, Math.min(left, 50));
    }
    this.state = "ready";
    return true;
  }

  /** Starts the workers and resolves once they are ready; false on failure. */
  async start(): Promise<boolean> {
    if (this.state === "ready") return true;
    if (this.state !== "idle") return false;
    if (!this.trySpawn()) return false;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!this.allReady()) {
      if (Date.now() > deadline || this.status() !== "starting" || Atomics.load(this.ctl, FAILED) !== 0) return this.fail();
      await new Promise((r) => setTimeout(r, 2));
    }
    if (this.status() !== "starting") return false; // disposed meanwhile
    this.state = "ready";
    return true;
  }

  private fail(): false {
    this.terminate();
    this.state = "failed";
    return false;
  }

  /**
   * Runs kernel `kernel` (index into partKernelNames) split into `parts` (<= threads): workers
   * 1..parts-1 call it with (args..., tid, parts), this thread runs `own` (part 0), then waits for
   * them. The pool must be ready.
   */
  run(kernel: number, args: readonly number[], parts: number, own: () => void): void {
    const c = this.ctl;
    if (args.length > MAX_ARGS) throw new RangeError(`WorkerPool.run: at most ${MAX_ARGS} arguments, got ${args.length}`);
    c[KERNEL] = kernel;
    c[NARGS] = args.length;
    c[PARTS] = parts;
    this.args.set(args);
    Atomics.store(c, PENDING, parts - 1);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    let error: unknown = null;
    try {
      own();
    } catch (e) {
      error = e;
    }
    // join: the workers write into the memory until PENDING is 0, so wait even after an error
    for (let s = 0; s < SPIN && Atomics.load(c, PENDING) !== 0; s++);
    for (let n = Atomics.load(c, PENDING); n !== 0; n = Atomics.load(c, PENDING)) {
      if (this.blocking) Atomics.wait(c, PENDING, n);
    }
    if (error !== null) throw error;
    if (Atomics.exchange(c, FAILED, 0) !== 0) throw new Error(`wasm worker failed in ${partKernelNames[kernel] ?? kernel}`);
  }

  private terminate(): void {
    Atomics.store(this.ctl, STOP, 1);
    Atomics.add(this.ctl, GEN, 1);
    Atomics.notify(this.ctl, GEN);
    for (const w of this.workers) w.terminate();
    this.workers = [];
  }

  /** Stops and terminates the workers; the pool cannot run jobs afterwards. */
  dispose(): void {
    if (this.state === "disposed") return;
    this.terminate();
    this.state = "disposed";
  }
}
