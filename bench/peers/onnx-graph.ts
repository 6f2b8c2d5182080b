/**
 * A tiny ONNX ModelProto encoder (protobuf wire format by hand) and the attention graphs the
 * benchmark runs on onnxruntime-node. Only the fields the graphs need are written:
 *
 *   ModelProto      ir_version=1 producer_name=2 graph=7 opset_import=8
 *   OperatorSetId   domain=1 version=2
 *   GraphProto      node=1 name=2 initializer=5 input=11 output=12
 *   NodeProto       input=1 output=2 name=3 op_type=4 attribute=5 domain=7
 *   AttributeProto  name=1 f=2 i=3 ints=8 type=20 (FLOAT=1 INT=2 INTS=7)
 *   TensorProto     dims=1 data_type=2 name=8 raw_data=9 (FLOAT=1 INT64=7)
 *   ValueInfoProto  name=1 type=2; TypeProto tensor_type=1; Tensor elem_type=1 shape=2;
 *   TensorShapeProto dim=1; Dimension dim_value=1 dim_param=2
 *
 * ```ts
 * const bytes = corePlainGraph(8, 64);          // Uint8Array of a .onnx file
 * const s = await ort.InferenceSession.create(bytes);
 * ```
 */

/** Protobuf writer: varints, length-delimited fields, fixed32 floats. */
class Writer {
  private chunks: number[] = [];

  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.chunks.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.chunks.push(Number(x));
    return this;
  }

  private key(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  int(field: number, v: number): this {
    return this.key(field, 0).varint(v);
  }

  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2).varint(b.length);
    for (const x of b) this.chunks.push(x);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, w: Writer): this {
    return this.bytes(field, w.finish());
  }

  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(new Float32Array([v]).buffer);
    for (const x of b) this.chunks.push(x);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

export type Attr = { name: string; f: number } | { name: string; i: number } | { name: string; ints: number[] };

export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  domain?: string;
  attrs?: Attr[];
}

/** A graph input/output: its name and shape; a string dim is symbolic. */
export interface ValueInfo {
  name: string;
  shape: (number | string)[];
}

export interface Initializer {
  name: string;
  dims: number[];
  /** float32 values, or int64 values when `int64`. */
  data: Float32Array | number[];
  int64?: boolean;
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers?: Initializer[];
}

function attrProto(a: Attr): Writer {
  const w = new Writer().string(1, a.name);
  if ("f" in a) w.float(2, a.f).int(20, 1);
  else if ("i" in a) w.int(3, a.i).int(20, 2);
  else {
    for (const v of a.ints) w.int(8, v);
    w.int(20, 7);
  }
  return w;
}

function valueInfo(v: ValueInfo): Writer {
  const shape = new Writer();
  for (const d of v.shape) shape.message(1, typeof d === "number" ? new Writer().int(1, d) : new Writer().string(2, d));
  const tensorType = new Writer().int(1, 1).message(2, shape);
  return new Writer().string(1, v.name).message(2, new Writer().message(1, tensorType));
}

function tensorProto(t: Initializer): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.int64 ? 7 : 1).string(8, t.name);
  let raw: Uint8Array;
  if (t.int64) {
    const a = new BigInt64Array((t.data as number[]).map((x) => BigInt(x)));
    raw = new Uint8Array(a.buffer);
  } else {
    const f = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    raw = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  }
  return w.bytes(9, raw);
}

/** Encodes a model (ai.onnx opset 17, com.microsoft opset 1) as the bytes of a .onnx file. */
export function encodeModel(g: Graph): Uint8Array {
  const graph = new Writer();
  g.nodes.forEach((n, i) => {
    const w = new Writer();
    for (const x of n.inputs) w.string(1, x);
    for (const x of n.outputs) w.string(2, x);
    w.string(3, `${n.op}_${i}`).string(4, n.op);
    for (const a of n.attrs ?? []) w.message(5, attrProto(a));
    if (n.domain) w.string(7, n.domain);
    graph.message(1, w);
  });
  graph.string(2, g.name);
  for (const t of g.initializers ?? []) graph.message(5, tensorProto(t));
  for (const v of g.inputs) graph.message(11, valueInfo(v));
  for (const v of g.outputs) graph.message(12, valueInfo(v));
  const model = new Writer().int(1, 8).string(2, "qkv-bench");
  model.message(7, graph);
  model.message(8, new Writer().string(1, "").int(2, 17));
  model.message(8, new Writer().string(1, "com.microsoft").int(2, 1));
  return model.finish();
}

/** Plain attention on [B, H, N, D] inputs q, k, v: softmax(q k^T * scale) v with MatMul/Softmax. */
function plainAttentionNodes(q: string, k: string, v: string, out: string, scaleName: string): Node[] {
  return [
    { op: "Transpose", inputs: [k], outputs: [`${k}_t`], attrs: [{ name: "perm", ints: [0, 1, 3, 2] }] },
    { op: "MatMul", inputs: [q, `${k}_t`], outputs: ["scores_raw"] },
    { op: "Mul", inputs: ["scores_raw", scaleName], outputs: ["scores"] },
    { op: "Softmax", inputs: ["scores"], outputs: ["probs"], attrs: [{ name: "axis", i: -1 }] },
    { op: "MatMul", inputs: ["probs", v], outputs: [out] },
  ];
}

const scaleInit = (D: number): Initializer => ({ name: "scale", dims: [], data: new Float32Array([1 / Math.sqrt(D)]) });

/** Core, plain: q, k, v [1, H, N, D] -> out [1, H, N, D]. */
export function corePlainGraph(H: number, D: number): Uint8Array {
  const io = (name: string): ValueInfo => ({ name, shape: [1, H, "N", D] });
  return encodeModel({
    name: "core_plain",
    nodes: plainAttentionNodes("q", "k", "v", "out", "scale"),
    inputs: [io("q"), io("k"), io("v")],
    outputs: [io("out")],
    initializers: [scaleInit(D)],
  });
}

/**
 * Core, fused: com.microsoft.MultiHeadAttention on q, k, v [1, N, H*D] (the operator's layout:
 * heads interleaved in the last dim) -> out [1, N, H*D].
 */
export function coreFusedGraph(H: number, D: number): Uint8Array {
  const io = (name: string): ValueInfo => ({ name, shape: [1, "N", H * D] });
  return encodeModel({
    name: "core_fused",
    nodes: [{ op: "MultiHeadAttention", domain: "com.microsoft", inputs: ["q", "k", "v"], outputs: ["out"], attrs: [{ name: "num_heads", i: H }] }],
    inputs: [io("q"), io("k"), io("v")],
    outputs: [io("out")],
  });
}

/** The weights of torch.nn.MultiheadAttention: in_proj_weight [3E, E], in_proj_bias [3E], out_proj [E, E] and [E]. */
export interface MhaWeights {
  inProjWeight: Float32Array;
  inProjBias: Float32Array;
  outProjWeight: Float32Array;
  outProjBias: Float32Array;
}

/** w [rows, cols] -> w^T [cols, rows]. */
function transposed(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c]!;
  return t;
}

/**
 * Full self-attention MHA, x [1, N, E] -> [1, N, E]: one [E, 3E] input projection, then either
 * com.microsoft.MultiHeadAttention (`fused`) or Reshape/Transpose + MatMul/Softmax, then the output
 * projection. Same math as torch.nn.MultiheadAttention(batch_first=True) with these weights.
 */
export function mhaGraph(E: number, H: number, w: MhaWeights, fused: boolean): Uint8Array {
  const D = E / H;
  const inits: Initializer[] = [
    { name: "w_in", dims: [E, 3 * E], data: transposed(w.inProjWeight, 3 * E, E) },
    { name: "b_in", dims: [3 * E], data: w.inProjBias },
    { name: "w_out", dims: [E, E], data: transposed(w.outProjWeight, E, E) },
    { name: "b_out", dims: [E], data: w.outProjBias },
  ];
  const nodes: Node[] = [
    { op: "MatMul", inputs: ["x", "w_in"], outputs: ["qkv_raw"] },
    { op: "Add", inputs: ["qkv_raw", "b_in"], outputs: ["qkv"] },
    { op: "Split", inputs: ["qkv"], outputs: ["q", "k", "v"], attrs: [{ name: "axis", i: 2 }] },
  ];
  if (fused) {
    nodes.push({ op: "MultiHeadAttention", domain: "com.microsoft", inputs: ["q", "k", "v"], outputs: ["ctx"], attrs: [{ name: "num_heads", i: H }] });
  } else {
    inits.push({ name: "heads_shape", dims: [4], data: [1, -1, H, D], int64: true });
    inits.push({ name: "merged_shape", dims: [3], data: [1, -1, E], int64: true });
    inits.push(scaleInit(D));
    for (const n of ["q", "k", "v"]) {
      nodes.push({ op: "Reshape", inputs: [n, "heads_shape"], outputs: [`${n}_r`] });
      nodes.push({ op: "Transpose", inputs: [`${n}_r`], outputs: [`${n}_h`], attrs: [{ name: "perm", ints: [0, 2, 1, 3] }] });
    }
    nodes.push(...plainAttentionNodes("q_h", "k_h", "v_h", "ctx_h", "scale"));
    nodes.push({ op: "Transpose", inputs: ["ctx_h"], outputs: ["ctx_t"], attrs: [{ name: "perm", ints: [0, 2, 1, 3] }] });
    nodes.push({ op: "Reshape", inputs: ["ctx_t", "merged_shape"], outputs: ["ctx"] });
  }
  nodes.push({ op: "MatMul", inputs: ["ctx", "w_out"], outputs: ["y_raw"] });
  nodes.push({ op: "Add", inputs: ["y_raw", "b_out"], outputs: ["y"] });
  return encodeModel({
    name: fused ? "mha_fused" : "mha_plain",
    nodes,
    inputs: [{ name: "x", shape: [1, "N", E] }],
    outputs: [{ name: "y", shape: [1, "N", E] }],
    initializers: inits,
  });
}
