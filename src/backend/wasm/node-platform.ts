/**
 * Worker threads for the wasm backend in Node (installed by src/node.ts): worker_threads running
 * the pool's source with `eval: true`, unref'd so that they never keep a process alive, and
 * os.availableParallelism() cores.
 */
import os from "node:os";
import { Worker } from "node:worker_threads";
import type { WasmPlatform } from "./platform.js";

export const nodeWasmPlatform: WasmPlatform = {
  cores: () => (typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length),
  spawn(source, onError) {
    // execArgv []: no loader or module-type flags of the parent (the source is a classic script)
    const w = new Worker(source, { eval: true, execArgv: [] });
    w.unref();
    w.on("error", onError);
    return {
      postMessage: (m: unknown) => w.postMessage(m),
      terminate: () => void w.terminate(),
    };
  },
  startsWhileBlocked: true,
};
