/**
 * The source of a pool worker, a self-contained classic script (Node: worker_threads with
 * `eval: true`; browsers: a Blob URL). Its one message carries the compiled module, the shared
 * memory, the control block's offset, its thread id and the kernel names; it instantiates the module
 * over that memory (or raises FAILED), counts itself ready, then loops: wait for the generation to move, run its part
 * of the job, count itself done.
 */
import { ARGS_OFFSET, FAILED, GEN, KERNEL, MAX_ARGS, NARGS, PARTS, PENDING, READY, STOP } from "./control.js";

/** Polls before blocking, so back-to-back jobs skip a futex wake-up. */
export const SPIN = 2000;

export const workerSource = `"use strict";
const nodeThreads = typeof require === "function" ? require("node:worker_threads") : null;
const port = nodeThreads ? nodeThreads.parentPort : self;
function start(m) {
  const ctl = new Int32Array(m.memory.buffer, m.ctl, ${ARGS_OFFSET / 4});
  let instance;
  try {
    instance = new WebAssembly.Instance(m.module, { env: { memory: m.memory } });
  } catch (e) {
    Atomics.store(ctl, ${FAILED}, 1);
    Atomics.notify(ctl, ${READY});
    port.close();
    return;
  }
  const fns = m.kernels.map((n) => instance.exports[n]);
  const args = new Float64Array(m.memory.buffer, m.ctl + ${ARGS_OFFSET}, ${MAX_ARGS});
  const tid = m.tid;
  let seen = Atomics.load(ctl, ${GEN});
  Atomics.add(ctl, ${READY}, 1);
  Atomics.notify(ctl, ${READY});
  for (;;) {
    let gen = Atomics.load(ctl, ${GEN});
    for (let s = 0; s < ${SPIN} && gen === seen; s++) gen = Atomics.load(ctl, ${GEN});
    while (gen === seen) {
      Atomics.wait(ctl, ${GEN}, seen);
      gen = Atomics.load(ctl, ${GEN});
    }
    seen = gen;
    if (Atomics.load(ctl, ${STOP}) !== 0) break;
    const parts = ctl[${PARTS}];
    if (tid >= parts) continue;
    const a = Array.from(args.subarray(0, ctl[${NARGS}]));
    a.push(tid, parts);
    try {
      fns[ctl[${KERNEL}]](...a);
    } catch (e) {
      Atomics.store(ctl, ${FAILED}, 1);
    }
    if (Atomics.sub(ctl, ${PENDING}, 1) === 1) Atomics.notify(ctl, ${PENDING});
  }
  port.close();
}
if (nodeThreads) port.once("message", start);
else port.onmessage = (e) => { port.onmessage = null; start(e.data); };
`;
