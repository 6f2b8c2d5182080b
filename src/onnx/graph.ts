/**
 * A small ONNX graph builder for the emitters: graph inputs and outputs with symbolic dims
 * ("batch", "seq", …), initializers from a module's parameters (under their state-dict names),
 * constants, and nodes; `finish` gives the bytes of a .onnx file (ai.onnx opset 17, or 23 for a
 * graph with the standard Attention operator, plus com.microsoft opset 1 when a contrib operator
 * was used). `split` and `reduceMean` write the form of the builder's opset (their axes and
 * output count moved from attributes to inputs in opset 18). `subgraph` gives a builder for an
 * `If` branch: it shares the outer graph's value names (unique across all the graphs of a model)
 * and initializers (stored once, in the outer graph, and read from the branches by name).
 *
 * ```ts
 * const g = new GraphBuilder("linear");
 * const x = g.input("x", "float32", ["batch", 8]);
 * const y = g.node("MatMul", [x, g.param("weight_t", wT)]);
 * g.output(y, "y", "float32", ["batch", 4]);
 * const bytes = g.finish();
 *
 * // an If: each branch reads outer values (x, the weights) by name and declares the same outputs
 * const then = g.subgraph("then"), other = g.subgraph("else");
 * then.output(then.node("Relu", [x]), "then.z", "float32", ["batch", 8]);
 * other.output(other.node("Neg", [x]), "else.z", "float32", ["batch", 8]);
 * g.ifElse(g.input("flag", "bool", [1]), then, other, ["z"]);
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";
import {
  AttributeType, DataType, encodeModelProto, type AttributeMsg, type ElemType, type GraphMsg, type NodeMsg, type TensorMsg, type ValueInfoMsg,
} from "./proto.js";

/** A dimension: a size, or a symbolic name shared by the inputs and outputs that have it. */
export type Dim = number | string;

/** Attribute values: integer, float ({ f }), integer list, string, tensor ({ tensor }) or subgraph ({ graph }). */
export type Attr = number | { f: number } | number[] | string | { tensor: ConstTensor } | { graph: GraphBuilder };

/** A constant's data, dtype and dims. */
export interface ConstTensor { type: ElemType; dims: number[]; data: ArrayLike<number> }

/** The ai.onnx opset the export writes: 17 (LayerNormalization is from 17). */
export const OPSET = 17;
/** The ai.onnx opset of the standard Attention operator. */
export const ATTENTION_OPSET = 23;
/** The IR version each opset needs: 8 for opset 17, 10 for 21 … 22, 11 for 23. */
const irVersion = (opset: number): number => (opset >= 23 ? 11 : opset >= 21 ? 10 : 8);
export const MS_DOMAIN = "com.microsoft";

function rawData(t: ConstTensor): Uint8Array {
  const n = t.data.length;
  let a: Float32Array | Int32Array | BigInt64Array | Uint8Array;
  if (t.type === "float32") a = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
  else if (t.type === "int32") a = Int32Array.from(t.data);
  else if (t.type === "bool") a = Uint8Array.from(t.data, (x) => (x ? 1 : 0));
  else {
    a = new BigInt64Array(n);
    for (let i = 0; i < n; i++) a[i] = BigInt(t.data[i]!);
  }
  // a copy, so the file never aliases (or keeps alive) a model's parameter buffer
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function tensorMsg(name: string, t: ConstTensor): TensorMsg {
  return { name, dims: t.dims.slice(), data_type: DataType[t.type], raw_data: rawData(t) };
}

function valueInfo(name: string, type: ElemType, dims: readonly Dim[]): ValueInfoMsg {
  return {
    name,
    type: { tensor_type: { elem_type: DataType[type], shape: { dim: dims.map((d) => (typeof d === "number" ? { dim_value: d } : { dim_param: d })) } } },
  };
}

function attrMsg(name: string, v: Attr): AttributeMsg {
  if (typeof v === "number") return { name, type: AttributeType.INT, i: v };
  if (typeof v === "string") return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: v };
  if ("f" in v) return { name, type: AttributeType.FLOAT, f: v.f };
  if ("graph" in v) return { name, type: AttributeType.GRAPH, g: v.graph.graphMsg() };
  return { name, type: AttributeType.TENSOR, t: tensorMsg("", v.tensor) };
}

/**
 * What a graph shares with its subgraphs: the value names (ONNX wants a name defined once across
 * a graph and its subgraphs), the initializers, the node counter and whether a contrib operator
 * was used anywhere.
 */
class Scope {
  readonly inits = new Map<string, TensorMsg>();
  readonly consts = new Map<string, string>();
  readonly used = new Set<string>();
  readonly paramNames = new Map<Tensor, string>();
  counter = 0;
  nodeCount = 0;
  contrib = false;
}

export class GraphBuilder {
  private readonly nodes: NodeMsg[] = [];
  private readonly inputs: ValueInfoMsg[] = [];
  private readonly outputs: ValueInfoMsg[] = [];
  private readonly scope: Scope;

  /**
   * opset: the ai.onnx opset the graph imports (17 … 23). outer: the graph this one is a subgraph
   * of (see `subgraph`); null for a model's main graph.
   */
  constructor(readonly name: string, readonly opset: number = OPSET, readonly outer: GraphBuilder | null = null) {
    if (!Number.isInteger(opset) || opset < OPSET || opset > ATTENTION_OPSET) {
      throw new ValueError("GraphBuilder", "opset", `an integer in ${OPSET} … ${ATTENTION_OPSET}`, String(opset));
    }
    if (outer && outer.opset !== opset) throw new ValueError("GraphBuilder", "opset", `the outer graph's (${outer.opset})`, String(opset));
    this.scope = outer ? outer.scope : new Scope();
  }

  /**
   * A subgraph (an If branch's graph): its nodes read this graph's values, inputs and initializers
   * by name; its own names, params and constants are drawn from (and stored in) this graph's.
   */
  subgraph(name: string): GraphBuilder {
    return new GraphBuilder(name, this.opset, this);
  }

  /** A fresh value name starting with `prefix`. */
  fresh(prefix: string): string {
    const used = this.scope.used;
    let n = prefix;
    while (used.has(n)) n = `${prefix}_${++this.scope.counter}`;
    used.add(n);
    return n;
  }

  /** Takes `name` as it is (for a graph's inputs and outputs); `what` names the caller in the error. */
  private claim(name: string, what: string): void {
    if (this.scope.used.has(name)) throw new ValueError(what, "name", "a name not yet used", name);
    this.scope.used.add(name);
  }

  private push(node: Omit<NodeMsg, "name">): void {
    this.nodes.push({ ...node, name: `${node.op_type}_${this.scope.nodeCount++}` });
  }

  /** Declares a graph input; returns its name. */
  input(name: string, type: ElemType, dims: readonly Dim[]): string {
    this.claim(name, "GraphBuilder.input");
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Makes `value` a graph output named `name` (through an Identity when the names differ). */
  output(value: string, name: string, type: ElemType, dims: readonly Dim[]): void {
    if (value !== name) {
      this.claim(name, "GraphBuilder.output");
      this.push({ input: [value], output: [name], op_type: "Identity", attribute: [] });
    }
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A module parameter as a float32 initializer named `name` (each tensor is stored once). */
  param(name: string, t: Tensor): string {
    const known = this.scope.paramNames.get(t);
    if (known) return known;
    if (t.dtype !== "float32" && t.dtype !== "float64") throw new ValueError("GraphBuilder.param", name, "a float tensor", t.dtype);
    const n = this.fresh(name);
    this.scope.inits.set(n, tensorMsg(n, { type: "float32", dims: t.shape.slice(), data: t.data as ArrayLike<number> }));
    this.scope.paramNames.set(t, n);
    return n;
  }

  /** A constant initializer (shared between equal constants). */
  constant(t: ConstTensor, prefix = "const"): string {
    const key = `${t.type}|${t.dims.join(",")}|${Array.from(t.data).join(",")}`;
    const known = this.scope.consts.get(key);
    if (known) return known;
    const n = this.fresh(prefix);
    this.scope.inits.set(n, tensorMsg(n, t));
    this.scope.consts.set(key, n);
    return n;
  }

  /** An int64 vector constant (shapes, axes, starts). */
  ints(values: readonly number[]): string {
    return this.constant({ type: "int64", dims: [values.length], data: values }, "ints");
  }

  /** A float32 scalar constant. */
  scalar(v: number): string {
    return this.constant({ type: "float32", dims: [], data: [v] }, "scalar");
  }

  /** Adds a node with one output; returns the output's name. */
  node(op: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, opts: { domain?: string; name?: string } = {}): string {
    return this.nodeN(op, inputs, 1, attrs, opts)[0]!;
  }

  /** Adds a node with `outputs` outputs (a count, or names); returns the output names. */
  nodeN(op: string, inputs: readonly string[], outputs: number | readonly string[], attrs: Record<string, Attr> = {}, opts: { domain?: string; name?: string } = {}): string[] {
    const base = opts.name ?? op.toLowerCase();
    const outs = typeof outputs === "number" ? Array.from({ length: outputs }, () => this.fresh(base)) : outputs.map((o) => this.fresh(o));
    if (opts.domain === MS_DOMAIN) this.scope.contrib = true;
    this.push({
      input: inputs.slice(), output: outs, op_type: op,
      ...(opts.domain ? { domain: opts.domain } : {}),
      attribute: Object.entries(attrs).map(([k, v]) => attrMsg(k, v)),
    });
    return outs;
  }

  /**
   * An If node: `cond` (bool, one element) picks `then` or `otherwise`, two finished subgraphs of
   * this graph with the same number of outputs, of the same types; the node's outputs get exactly
   * the names `outputs`. Returns them.
   */
  ifElse(cond: string, then: GraphBuilder, otherwise: GraphBuilder, outputs: readonly string[]): string[] {
    for (const [what, b] of [["then", then], ["otherwise", otherwise]] as const) {
      if (b.outer !== this) throw new ValueError("GraphBuilder.ifElse", what, `a subgraph of "${this.name}"`, `"${b.name}"`);
      if (b.outputs.length !== outputs.length) throw new ValueError("GraphBuilder.ifElse", what, `${outputs.length} outputs`, String(b.outputs.length));
    }
    for (const o of outputs) this.claim(o, "GraphBuilder.ifElse");
    this.push({ input: [cond], output: outputs.slice(), op_type: "If", attribute: [attrMsg("then_branch", { graph: then }), attrMsg("else_branch", { graph: otherwise })] });
    return outputs.slice();
  }

  /** Splits x into n equal parts along `axis`; returns the parts' names. */
  split(x: string, n: number, axis: number): string[] {
    return this.nodeN("Split", [x], n, this.opset >= 18 ? { axis, num_outputs: n } : { axis });
  }

  /** The mean of x over `axes` (keepdims 0 or 1). */
  reduceMean(x: string, axes: readonly number[], keepdims: 0 | 1): string {
    return this.opset >= 18
      ? this.node("ReduceMean", [x, this.ints(axes)], { keepdims })
      : this.node("ReduceMean", [x], { axes: axes.slice(), keepdims });
  }

  /** The number of nodes so far. */
  get size(): number {
    return this.nodes.length;
  }

  /** The GraphProto: a main graph holds every initializer of its subgraphs, a subgraph none. */
  graphMsg(): GraphMsg {
    const initializer = this.outer ? [] : [...this.scope.inits.values()];
    return { name: this.name, node: this.nodes, initializer, input: this.inputs, output: this.outputs };
  }

  /** The bytes of the .onnx file (of a main graph). */
  finish(meta: Record<string, string> = {}, docString = ""): Uint8Array {
    if (this.outer) throw new ValueError("GraphBuilder.finish", "graph", "a main graph", `the subgraph "${this.name}"`);
    return encodeModelProto({
      ir_version: irVersion(this.opset),
      producer_name: "qkv",
      producer_version: "0.1.0",
      opset_import: [{ domain: "", version: this.opset }, ...(this.scope.contrib ? [{ domain: MS_DOMAIN, version: 1 }] : [])],
      metadata_props: Object.entries(meta).map(([key, value]) => ({ key, value })),
      ...(docString ? { doc_string: docString } : {}),
      graph: this.graphMsg(),
    });
  }
}
