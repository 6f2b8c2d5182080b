/**
 * Node-classification graphs in qkv's graph format (data/<name>/<name>.json; written by
 * tools/data/): parsed and checked field by field, every fault a FormatError naming the file and
 * the field; then turned into the tensors the models take. Browser-safe.
 *
 * ```ts
 * const ds = parseGraphDataset(text, "data/karate-club/karate-club.json");
 * const { x, edgeIndex, labels } = graphTensors(ds);   // x [N, F], edgeIndex int32 [2, 2E], labels int32 [N]
 * ```
 *
 * The format (one JSON object):
 * - `format` "qkv-graph", `version` 1, `name`, `source` (where the data came from);
 * - `nodes`: N names; `classes`: C names; `labels`: N class indices;
 * - `edges`: [sources, targets], an undirected graph with each edge once and no self-loops (the
 *   models see both directions);
 * - `features` (optional): `{ kind: "bag-of-words", vocabulary: V words, indices: N lists of word
 *   indices }` with N x V <= MAX_FEATURE_VALUES; without it, every node's feature is its one-hot
 *   id (N <= MAX_ONE_HOT_NODES);
 * - `split`: `{ train, valid, test }`, disjoint node lists (train and test not empty).
 */
import { parseJsonBounded } from "../../io/json.js";
import { FormatError } from "../../tensor/errors.js";
import { Tensor } from "../../tensor/tensor.js";

/** Bounds a graph file must keep to. */
export const MAX_GRAPH_NODES = 200_000;
export const MAX_GRAPH_EDGES = 2_000_000;
export const MAX_GRAPH_CLASSES = 1_000;
export const MAX_VOCABULARY = 100_000;
/** Largest graph without features (its one-hot ids are an [N, N] matrix). */
export const MAX_ONE_HOT_NODES = 4_096;
/** Largest feature matrix (nodes × vocabulary float32 values, 256 MiB) that graphTensors builds. */
export const MAX_FEATURE_VALUES = 2 ** 26;

export interface GraphSplit {
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
}

export interface GraphDataset {
  name: string;
  source: string;
  nodes: string[];
  classes: string[];
  /** [N] class index per node. */
  labels: Int32Array;
  /** Undirected edges, each once: sources and targets, [E] each. */
  edges: { src: Int32Array; dst: Int32Array };
  /** Bag of words per node, or null for one-hot node ids. */
  features: { vocabulary: string[]; indices: Int32Array[] } | null;
  split: GraphSplit;
}

const OP = "loadGraphDataset";

export function parseGraphDataset(text: string, file: string): GraphDataset {
  const fail = (field: string, expected: string, actual: string): never => {
    throw new FormatError(OP, field, expected, actual, `${OP}: ${field} expected ${expected}, got ${actual} (file ${file})`);
  };
  const kind = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? `an array of ${v.length}` : typeof v === "string" ? JSON.stringify(v.slice(0, 40)) : typeof v);
  const doc = parseJsonBounded(text, OP, "file", file);
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return fail("file", "a JSON object", kind(doc));
  const d = doc as Record<string, unknown>;
  if (d.format !== "qkv-graph") fail("format", '"qkv-graph"', kind(d.format));
  if (d.version !== 1) fail("version", "1", typeof d.version === "number" ? String(d.version) : kind(d.version));
  const str = (field: string, v: unknown): string => (typeof v === "string" ? v : fail(field, "a string", kind(v)));
  const strings = (field: string, v: unknown, min: number, max: number): string[] => {
    if (!Array.isArray(v) || v.length < min || v.length > max) return fail(field, `an array of ${min} to ${max} strings`, kind(v));
    v.forEach((s, i) => typeof s !== "string" && fail(`${field}[${i}]`, "a string", kind(s)));
    return v as string[];
  };
  /** An array of integers in [0, bound), at most max of them. */
  const ints = (field: string, v: unknown, bound: number, what: string, max: number): Int32Array => {
    if (!Array.isArray(v) || v.length > max) return fail(field, `an array of at most ${max} ${what}`, kind(v));
    const out = new Int32Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x >= bound) fail(`${field}[${i}]`, `${what} in [0, ${bound})`, typeof x === "number" ? String(x) : kind(x));
      out[i] = x as number;
    }
    return out;
  };
  const name = str("name", d.name);
  const source = str("source", d.source);
  const nodes = strings("nodes", d.nodes, 1, MAX_GRAPH_NODES);
  const N = nodes.length;
  const classes = strings("classes", d.classes, 2, MAX_GRAPH_CLASSES);
  if (new Set(classes).size !== classes.length) fail("classes", "distinct names", "a repeated name");
  const labels = ints("labels", d.labels, classes.length, "class indices", N);
  if (labels.length !== N) fail("labels", `${N} class indices (one per node)`, `${labels.length}`);
  if (!Array.isArray(d.edges) || d.edges.length !== 2) fail("edges", "[sources, targets]", kind(d.edges));
  const [es, et] = d.edges as unknown[];
  const src = ints("edges[0]", es, N, "node indices", MAX_GRAPH_EDGES);
  const dst = ints("edges[1]", et, N, "node indices", MAX_GRAPH_EDGES);
  if (dst.length !== src.length) fail("edges[1]", `${src.length} targets (as many as sources)`, `${dst.length}`);
  for (let e = 0; e < src.length; e++) if (src[e] === dst[e]) fail(`edges[*][${e}]`, "an edge between two nodes (no self-loops)", `a self-loop at node ${src[e]}`);
  let features: GraphDataset["features"] = null;
  if (d.features !== undefined && d.features !== null) {
    const f = d.features as Record<string, unknown>;
    if (typeof f !== "object" || Array.isArray(f)) fail("features", "an object { kind, vocabulary, indices }", kind(f));
    if (f.kind !== "bag-of-words") fail("features.kind", '"bag-of-words"', kind(f.kind));
    const vocabulary = strings("features.vocabulary", f.vocabulary, 1, MAX_VOCABULARY);
    // the [N, V] feature matrix is bounded before anything is built in its size
    if (N * vocabulary.length > MAX_FEATURE_VALUES) {
      fail("features.vocabulary", `at most ${MAX_FEATURE_VALUES} feature values (nodes x vocabulary words)`, `${N} x ${vocabulary.length}`);
    }
    if (!Array.isArray(f.indices) || f.indices.length !== N) fail("features.indices", `${N} lists of word indices (one per node)`, kind(f.indices));
    const indices = (f.indices as unknown[]).map((v, i) => ints(`features.indices[${i}]`, v, vocabulary.length, "word indices", vocabulary.length));
    features = { vocabulary, indices };
  } else if (N > MAX_ONE_HOT_NODES) {
    fail("features", `node features for a graph of more than ${MAX_ONE_HOT_NODES} nodes`, "none");
  }
  const sp = d.split as Record<string, unknown>;
  if (sp === null || typeof sp !== "object" || Array.isArray(sp)) fail("split", "an object { train, valid, test }", kind(sp));
  const part = (k: "train" | "valid" | "test"): Int32Array => ints(`split.${k}`, sp[k], N, "node indices", N);
  const split = { train: part("train"), valid: part("valid"), test: part("test") };
  if (split.train.length === 0) fail("split.train", "at least one node", "none");
  if (split.test.length === 0) fail("split.test", "at least one node", "none");
  const owner = new Int8Array(N);
  for (const [k, ids] of [["train", split.train], ["valid", split.valid], ["test", split.test]] as const) {
    for (const i of ids) {
      if (owner[i]) fail(`split.${k}`, "nodes in no other part of the split (and each once)", `node ${i} again`);
      owner[i] = 1;
    }
  }
  return { name, source, nodes, classes, labels, edges: { src, dst }, features, split };
}

export interface GraphTensors {
  /** [N, F]: bag-of-words rows scaled to sum 1 (an empty bag stays 0), or one-hot ids [N, N]. */
  x: Tensor;
  /** int32 [2, 2E]: every edge in both directions (row 0 source, row 1 target). */
  edgeIndex: Tensor;
  /** int32 [N]. */
  labels: Tensor;
}

export function graphTensors(ds: GraphDataset): GraphTensors {
  const N = ds.nodes.length, E = ds.edges.src.length;
  let x: Tensor;
  if (ds.features) {
    const F = ds.features.vocabulary.length;
    const d = new Float32Array(N * F);
    ds.features.indices.forEach((words, n) => {
      for (const w of words) d[n * F + w] = 1 / words.length;
    });
    x = new Tensor(d, [N, F], "float32");
  } else {
    const d = new Float32Array(N * N);
    for (let n = 0; n < N; n++) d[n * N + n] = 1;
    x = new Tensor(d, [N, N], "float32");
  }
  const ei = new Int32Array(4 * E); // sources [src, dst], then targets [dst, src]
  ei.set(ds.edges.src, 0);
  ei.set(ds.edges.dst, E);
  ei.set(ds.edges.dst, 2 * E);
  ei.set(ds.edges.src, 3 * E);
  return { x, edgeIndex: new Tensor(ei, [2, 2 * E], "int32"), labels: new Tensor(ds.labels.slice(), [N], "int32") };
}

/** The fraction of edges that join two nodes of one class (edge homophily). */
export function edgeHomophily(ds: GraphDataset): number {
  let same = 0;
  for (let e = 0; e < ds.edges.src.length; e++) if (ds.labels[ds.edges.src[e]!] === ds.labels[ds.edges.dst[e]!]) same++;
  return ds.edges.src.length ? same / ds.edges.src.length : 0;
}
