/**
 * Maximum flow (Dinic's algorithm: BFS levels, then blocking flows by DFS along them) over
 * real-valued capacities; the solver under attention flow.
 *
 * ```ts
 * const g = new FlowNetwork(4);
 * g.addEdge(0, 1, 1); g.addEdge(0, 2, 2); g.addEdge(1, 3, 2); g.addEdge(2, 3, 1);
 * g.maxFlow(0, 3); // 2
 * ```
 */
import { ValueError } from "../tensor/errors.js";

/** Capacities below this count as saturated (float round-off). */
const EPS = 1e-12;

export class FlowNetwork {
  private readonly head: Int32Array;
  private to: number[] = [];
  private cap: number[] = [];
  private next: number[] = [];
  private readonly level: Int32Array;
  private readonly iter: Int32Array;

  constructor(readonly nodes: number) {
    if (!Number.isInteger(nodes) || nodes < 2) throw new ValueError("FlowNetwork", "nodes", "an integer >= 2", String(nodes));
    this.head = new Int32Array(nodes).fill(-1);
    this.level = new Int32Array(nodes);
    this.iter = new Int32Array(nodes);
  }

  /** A directed edge u -> v of capacity c >= 0 (its residual twin v -> u starts at 0). */
  addEdge(u: number, v: number, c: number): void {
    for (const [arg, x] of [["u", u], ["v", v]] as const) {
      if (!Number.isInteger(x) || x < 0 || x >= this.nodes) throw new ValueError("FlowNetwork.addEdge", arg, `a node in [0, ${this.nodes})`, String(x));
    }
    if (!(c >= 0) || !Number.isFinite(c)) throw new ValueError("FlowNetwork.addEdge", "c", "a finite capacity >= 0", String(c));
    for (const [a, b, cc] of [[u, v, c], [v, u, 0]] as const) {
      this.to.push(b);
      this.cap.push(cc);
      this.next.push(this.head[a]!);
      this.head[a] = this.to.length - 1;
    }
  }

  private bfs(s: number, t: number, cap: Float64Array): boolean {
    this.level.fill(-1);
    const queue = new Int32Array(this.nodes);
    let qh = 0, qt = 0;
    queue[qt++] = s;
    this.level[s] = 0;
    while (qh < qt) {
      const u = queue[qh++]!;
      for (let e = this.head[u]!; e !== -1; e = this.next[e]!) {
        const v = this.to[e]!;
        if (cap[e]! > EPS && this.level[v]! < 0) {
          this.level[v] = this.level[u]! + 1;
          queue[qt++] = v;
        }
      }
    }
    return this.level[t]! >= 0;
  }

  private dfs(u: number, t: number, f: number, cap: Float64Array): number {
    if (u === t) return f;
    for (; this.iter[u]! !== -1; this.iter[u] = this.next[this.iter[u]!]!) {
      const e = this.iter[u]!, v = this.to[e]!;
      if (cap[e]! > EPS && this.level[v] === this.level[u]! + 1) {
        const d = this.dfs(v, t, Math.min(f, cap[e]!), cap);
        if (d > 0) {
          cap[e] = cap[e]! - d;
          cap[e ^ 1] = cap[e ^ 1]! + d;
          return d;
        }
      }
    }
    return 0;
  }

  /** The value of a maximum s-t flow (the network's capacities are left unchanged). */
  maxFlow(s: number, t: number): number {
    for (const [arg, x] of [["s", s], ["t", t]] as const) {
      if (!Number.isInteger(x) || x < 0 || x >= this.nodes) throw new ValueError("FlowNetwork.maxFlow", arg, `a node in [0, ${this.nodes})`, String(x));
    }
    if (s === t) throw new ValueError("FlowNetwork.maxFlow", "t", "a node other than s", String(t));
    const cap = Float64Array.from(this.cap);
    let flow = 0;
    while (this.bfs(s, t, cap)) {
      this.iter.set(this.head);
      for (let f = this.dfs(s, t, Infinity, cap); f > 0; f = this.dfs(s, t, Infinity, cap)) flow += f;
    }
    return flow;
  }
}
