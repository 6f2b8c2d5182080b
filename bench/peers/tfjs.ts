/**
 * TF.js peer: @tensorflow/tfjs-core with @tensorflow/tfjs-backend-wasm (SIMD; Node gets the
 * single-threaded build: setThreadsCount is honoured only where wasm threads are available),
 * forward and forward + backward (tf.grads).
 *
 * tfjs-core's Node bundle leaves the gradient registrations out (the @tensorflow/tfjs union
 * package adds them), so this peer bundles tfjs-core's ES modules, its register_all_gradients
 * module and the wasm backend with esbuild (a devDependency already) into one CommonJS file under
 * the OS temp folder, once per version, instead of installing the whole union package.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type { Group, Pass } from "../lib.js";
import type { MhaWeights } from "./onnx-graph.js";

type Core = typeof import("@tensorflow/tfjs-core");
type TF = Core & {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
  setWasmPaths(prefix: string): void;
};
type T = import("@tensorflow/tfjs-core").Tensor;

const require = createRequire(import.meta.url);

function bundle(): string {
  const coreVersion = (require("@tensorflow/tfjs-core/package.json") as { version: string }).version;
  const wasmVersion = (require("@tensorflow/tfjs-backend-wasm/package.json") as { version: string }).version;
  const dir = path.join(os.tmpdir(), "qkv-bench");
  const out = path.join(dir, `tfjs-${coreVersion}-wasm-${wasmVersion}.cjs`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const entry = path.join(dir, `tfjs-entry-${process.pid}.mjs`);
  writeFileSync(entry, [
    `export * from "@tensorflow/tfjs-core";`,
    `import "@tensorflow/tfjs-core/dist/register_all_gradients";`,
    `export { setThreadsCount, getThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";`,
  ].join("\n"));
  const esbuild = require("esbuild") as typeof import("esbuild");
  const tmp = `${out}.${process.pid}.tmp`;
  esbuild.buildSync({
    entryPoints: [entry], bundle: true, platform: "node", format: "cjs", outfile: tmp,
    mainFields: ["module", "main"], logLevel: "error",
    nodePaths: [path.join(path.dirname(require.resolve("esbuild/package.json")), "..")],
  });
  // atomic publish: concurrent runs may race here
  require("node:fs").renameSync(tmp, out);
  return out;
}

export class TfjsPeer {
  private constructor(private readonly tf: TF, readonly version: string, readonly threads: number,
    private readonly H: number, private readonly D: number, private readonly E: number) {}

  static async create(threads: number, H: number, D: number, E: number): Promise<TfjsPeer | string> {
    try {
      const tf = require(bundle()) as TF;
      tf.setWasmPaths(path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + path.sep);
      tf.setThreadsCount(threads);
      if (!(await tf.setBackend("wasm"))) return "the TF.js wasm backend did not initialize";
      await tf.ready();
      const version = (require("@tensorflow/tfjs-core/package.json") as { version: string }).version;
      return new TfjsPeer(tf, version, tf.getThreadsCount(), H, D, E);
    } catch (e) {
      return `TF.js did not load: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
    }
  }

  get simd(): boolean {
    return this.tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
  }

  /** The data of t (then disposed). */
  private read(t: T): Float32Array {
    const d = t.dataSync() as Float32Array;
    t.dispose();
    return d;
  }

  private attention(q: T, k: T, v: T): T {
    const tf = this.tf;
    return tf.matMul(tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(this.D))), v);
  }

  /** x [N, E] -> [N, E] with wT [E, 3E], b [3E], woT [E, E], bo [E]. */
  private mha(x: T, wT: T, b: T, woT: T, bo: T, N: number): T {
    const tf = this.tf, { H, D, E } = this;
    const qkv = tf.add(tf.matMul(x, wT), b); // [N, 3E]
    const heads = tf.transpose(tf.reshape(qkv, [N, 3, H, D]), [1, 2, 0, 3]); // [3, H, N, D]
    const [q, k, v] = tf.unstack(heads, 0) as [T, T, T];
    const ctx = this.attention(q, k, v); // [H, N, D]
    const merged = tf.reshape(tf.transpose(ctx, [1, 0, 2]), [N, E]);
    return tf.add(tf.matMul(merged, woT), bo);
  }

  /**
   * A runner for one row; core inputs q, k, v [1, H, N, D] (+ dy), mha input x [1, N, E] (+ dy).
   * It returns the output data (forward) or nothing (forward + backward). `dispose` frees the inputs.
   */
  prepare(group: Group, pass: Pass, N: number, inputs: Float32Array[], dy: Float32Array, w: MhaWeights):
    { run: () => Float32Array | null; dispose: () => void } {
    const tf = this.tf, { H, D, E } = this;
    const owned: T[] = [];
    const keep = <X extends T>(t: X): X => {
      owned.push(t);
      return t;
    };
    const dispose = (): void => tf.dispose(owned);
    if (group === "core") {
      const [q, k, v] = inputs.map((x) => keep(tf.tensor(x, [H, N, D]))) as [T, T, T];
      const g = keep(tf.tensor(dy, [H, N, D]));
      if (pass === "fwd") return { run: () => this.read(tf.tidy(() => this.attention(q, k, v))), dispose };
      const grads = tf.grads((a: T, b: T, c: T) => this.attention(a, b, c));
      return { run: () => { tf.dispose(grads([q, k, v], g)); return null; }, dispose };
    }
    const t = (a: Float32Array, rows: number, cols: number): Float32Array => {
      const o = new Float32Array(a.length);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) o[c * rows + r] = a[r * cols + c]!;
      return o;
    };
    const x = keep(tf.tensor(inputs[0]!, [N, E]));
    const wT = keep(tf.tensor(t(w.inProjWeight, 3 * E, E), [E, 3 * E]));
    const b = keep(tf.tensor(w.inProjBias, [3 * E]));
    const woT = keep(tf.tensor(t(w.outProjWeight, E, E), [E, E]));
    const bo = keep(tf.tensor(w.outProjBias, [E]));
    const g = keep(tf.tensor(dy, [N, E]));
    if (pass === "fwd") return { run: () => this.read(tf.tidy(() => this.mha(x, wT, b, woT, bo, N))), dispose };
    const grads = tf.grads((a: T, b1: T, c: T, d: T, e: T) => this.mha(a, b1, c, d, e, N));
    return { run: () => { tf.dispose(grads([x, wT, b, woT, bo], g)); return null; }, dispose };
  }
}
