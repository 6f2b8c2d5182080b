/**
 * A small ONNX graph builder for the emitters: graph inputs and outputs with symbolic dims
 * ("batch", "seq", …), initializers from a module's parameters (under their state-dict names),
 * constants, and nodes; `finish` gives the bytes of a .onnx file (ai.onnx opset 17, or 23 for a
 * graph with the standard Attention operator, plus com.microsoft opset 1 when a contrib operator
 * was used). `split` and `reduceMean` write the form of the builder's opset (their axes and
 * output count moved from attributes to inputs in opset 18).
 *
 * ```ts
 * const g = new GraphBuilder("linear");
 * const x = g.input("x", "float32", ["batch", 8]);
 * const y = g.node("MatMul", [x, g.param("weight_t", wT)]);
 * g.output(y, "y", "float32", ["batch", 4]);
 * const bytes = g.finish();
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { AttributeType, DataType, encodeModelProto, type AttributeMsg, type ElemType, type NodeMsg, type TensorMsg, type ValueInfoMsg } from "./proto.js";

/** A dimension: a size, or a symbolic name shared by the inputs and outputs that have it. */
export type Dim = number | string;

/** Attribute values: integer, float ({ f }), integer list, string, or tensor ({ tensor }). */
export type Attr = number | { f: number } | number[] | string | { tensor: ConstTensor };

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
  return { name, type: AttributeType.TENSOR, t: tensorMsg("", v.tensor) };
}

export class GraphBuilder {
  private readonly nodes: NodeMsg[] = [];
  private readonly inits = new Map<string, TensorMsg>();
  private readonly inputs: ValueInfoMsg[] = [];
  private readonly outputs: ValueInfoMsg[] = [];
  private readonly consts = new Map<string, string>();
  private readonly used = new Set<string>();
  private readonly paramNames = new Map<Tensor, string>();
  private counter = 0;
  private contrib = false;

  /** opset: the ai.onnx opset the graph imports (17 … 23). */
  constructor(readonly name: string, readonly opset: number = OPSET) {
    if (!Number.isInteger(opset) || opset < OPSET || opset > ATTENTION_OPSET) {
      throw new ValueError("GraphBuilder", "opset", `an integer in ${OPSET} … ${ATTENTION_OPSET}`, String(opset));
    }
  }

  /** A fresh value name starting with `prefix`. */
  fresh(prefix: string): string {
    let n = prefix;
    while (this.used.has(n)) n = `${prefix}_${++this.counter}`;
    this.used.add(n);
    return n;
  }

  /** Declares a graph input; returns its name. */
  input(name: string, type: ElemType, dims: readonly Dim[]): string {
    if (this.used.has(name)) throw new ValueError("GraphBuilder.input", "name", "a name not yet used", name);
    this.used.add(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Makes `value` a graph output named `name` (through an Identity when the names differ). */
  output(value: string, name: string, type: ElemType, dims: readonly Dim[]): void {
    if (value !== name) {
      if (this.used.has(name)) throw new ValueError("GraphBuilder.output", "name", "a name not yet used", name);
      this.used.add(name);
      this.nodes.push({ input: [value], output: [name], name: `Identity_${this.nodes.length}`, op_type: "Identity", attribute: [] });
    }
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A module parameter as a float32 initializer named `name` (each tensor is stored once). */
  param(name: string, t: Tensor): string {
    const known = this.paramNames.get(t);
    if (known) return known;
    if (t.dtype !== "float32" && t.dtype !== "float64") throw new ValueError("GraphBuilder.param", name, "a float tensor", t.dtype);
    const n = this.fresh(name);
    this.inits.set(n, tensorMsg(n, { type: "float32", dims: t.shape.slice(), data: t.data as ArrayLike<number> }));
    this.paramNames.set(t, n);
    return n;
  }

  /** A constant initializer (shared between equal constants). */
  constant(t: ConstTensor, prefix = "const"): string {
    const key = `${t.type}|${t.dims.join(",")}|${Array.from(t.data).join(",")}`;
    const known = this.consts.get(key);
    if (known) return known;
    const n = this.fresh(prefix);
    this.inits.set(n, tensorMsg(n, t));
    this.consts.set(key, n);
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
    if (opts.domain === MS_DOMAIN) this.contrib = true;
    this.nodes.push({
      input: inputs.slice(), output: outs, name: `${op}_${this.nodes.length}`, op_type: op,
      ...(opts.domain ? { domain: opts.domain } : {}),
      attribute: Object.entries(attrs).map(([k, v]) => attrMsg(k, v)),
    });
    return outs;
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

  /** The bytes of the .onnx file. */
  finish(meta: Record<string, string> = {}, docString = ""): Uint8Array {
    return encodeModelProto({
      ir_version: irVersion(this.opset),
      producer_name: "qkv",
      producer_version: "0.1.0",
      opset_import: [{ domain: "", version: this.opset }, ...(this.contrib ? [{ domain: MS_DOMAIN, version: 1 }] : [])],
      metadata_props: Object.entries(meta).map(([key, value]) => ({ key, value })),
      ...(docString ? { doc_string: docString } : {}),
      graph: { name: this.name, node: this.nodes, initializer: [...this.inits.values()], input: this.inputs, output: this.outputs },
    });
  }
}
