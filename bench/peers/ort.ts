/**
 * onnxruntime-node peer: forward only, CPU execution provider, 2 intra-op threads, all graph
 * optimizations. Implementations:
 *   ort:fused  core: com.microsoft.MultiHeadAttention; mha: projections + that operator
 *   ort:plain  core: Transpose/MatMul/Mul/Softmax/MatMul; mha: projections + the same
 * The graphs are built in code (onnx-graph.ts); N is a symbolic dimension, so one session serves
 * every size.
 */
import { createRequire } from "node:module";
import type { Group } from "../lib.js";
import { coreFusedGraph, corePlainGraph, mhaGraph, type MhaWeights } from "./onnx-graph.js";

type Ort = typeof import("onnxruntime-node");

export type OrtImpl = "ort:fused" | "ort:plain";
export const ortImpls: OrtImpl[] = ["ort:fused", "ort:plain"];

/** [1, H, N, D] -> [1, N, H*D] (the fused operator's layout). */
export function bhndToBnhd(x: Float32Array, H: number, N: number, D: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let h = 0; h < H; h++) {
    for (let n = 0; n < N; n++) out.set(x.subarray((h * N + n) * D, (h * N + n + 1) * D), (n * H + h) * D);
  }
  return out;
}

export class OrtPeer {
  private sessions = new Map<string, import("onnxruntime-node").InferenceSession>();

  private constructor(private readonly ort: Ort, readonly version: string, readonly threads: number,
    private readonly H: number, private readonly D: number, private readonly E: number, private readonly weights: MhaWeights) {}

  /** null (with the reason) when onnxruntime-node does not load. */
  static async create(threads: number, H: number, D: number, E: number, weights: MhaWeights): Promise<OrtPeer | string> {
    try {
      const require = createRequire(import.meta.url);
      const ort = require("onnxruntime-node") as Ort;
      const version = (require("onnxruntime-node/package.json") as { version: string }).version;
      return new OrtPeer(ort, version, threads, H, D, E, weights);
    } catch (e) {
      return `onnxruntime-node did not load: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
    }
  }

  private async session(impl: OrtImpl, group: Group): Promise<import("onnxruntime-node").InferenceSession> {
    const key = `${impl}|${group}`;
    let s = this.sessions.get(key);
    if (!s) {
      const fused = impl === "ort:fused";
      const bytes = group === "core"
        ? (fused ? coreFusedGraph(this.H, this.D) : corePlainGraph(this.H, this.D))
        : mhaGraph(this.E, this.H, this.weights, fused);
      s = await this.ort.InferenceSession.create(bytes, {
        executionProviders: ["cpu"],
        intraOpNumThreads: this.threads,
        interOpNumThreads: 1,
        executionMode: "sequential",
        graphOptimizationLevel: "all",
      });
      this.sessions.set(key, s);
    }
    return s;
  }

  /**
   * A runner for one row. Core inputs are q, k, v [1, H, N, D]; MHA input is x [1, N, E].
   * The runner resolves to the output (row-major [1, H, N, D] for core, [1, N, E] for mha).
   */
  async prepare(impl: OrtImpl, group: Group, N: number, inputs: Float32Array[]): Promise<() => Promise<Float32Array>> {
    const s = await this.session(impl, group);
    const { H, D, E } = this;
    const feeds: Record<string, import("onnxruntime-node").Tensor> = {};
    if (group === "core") {
      const names = ["q", "k", "v"];
      inputs.forEach((x, i) => {
        feeds[names[i]!] = impl === "ort:fused"
          ? new this.ort.Tensor("float32", bhndToBnhd(x, H, N, D), [1, N, H * D])
          : new this.ort.Tensor("float32", x, [1, H, N, D]);
      });
    } else {
      feeds.x = new this.ort.Tensor("float32", inputs[0]!, [1, N, E]);
    }
    const outName = s.outputNames[0]!;
    return async () => {
      const r = await s.run(feeds);
      const out = r[outName]!;
      const data = out.data as Float32Array;
      // the fused core output is [1, N, H*D]: back to [1, H, N, D] only when checked (not timed)
      return data;
    };
  }

  /** The fused core output [1, N, H*D] in the [1, H, N, D] layout, for the correctness check. */
  static bnhdToBhnd(x: Float32Array, H: number, N: number, D: number): Float32Array {
    const out = new Float32Array(x.length);
    for (let n = 0; n < N; n++) {
      for (let h = 0; h < H; h++) out.set(x.subarray((n * H + h) * D, (n * H + h + 1) * D), (h * N + n) * D);
    }
    return out;
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await s.release();
    this.sessions.clear();
  }
}
