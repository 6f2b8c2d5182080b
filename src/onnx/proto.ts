/**
 * The part of onnx.proto (ONNX's protobuf schema, proto2) that an exported model uses, as a
 * protobufjs JSON descriptor: field names and numbers copied from onnx/onnx.proto. protobufjs does
 * the wire encoding. A subgraph (an If branch) is a GraphProto in an attribute's `g`.
 *
 * ```ts
 * const bytes = encodeModelProto({ ir_version: 8, opset_import: [{ domain: "", version: 17 }], graph });
 * ```
 */
import protobuf from "protobufjs/light.js";

const r = (type: string, id: number): { rule: string; type: string; id: number } => ({ rule: "repeated", type, id });
const o = (type: string, id: number): { type: string; id: number } => ({ type, id });

/** onnx.proto's messages (the fields an export writes, with their numbers). */
const descriptor = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: o("string", 1), f: o("float", 2), i: o("int64", 3), s: o("bytes", 4), t: o("TensorProto", 5), g: o("GraphProto", 6),
            floats: r("float", 7), ints: r("int64", 8), type: o("AttributeType", 20),
          },
          nested: {
            AttributeType: { values: { UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } },
          },
        },
        ValueInfoProto: { fields: { name: o("string", 1), type: o("TypeProto", 2), doc_string: o("string", 3) } },
        NodeProto: {
          fields: {
            input: r("string", 1), output: r("string", 2), name: o("string", 3), op_type: o("string", 4),
            attribute: r("AttributeProto", 5), doc_string: o("string", 6), domain: o("string", 7),
          },
        },
        StringStringEntryProto: { fields: { key: o("string", 1), value: o("string", 2) } },
        ModelProto: {
          fields: {
            ir_version: o("int64", 1), producer_name: o("string", 2), producer_version: o("string", 3), domain: o("string", 4),
            model_version: o("int64", 5), doc_string: o("string", 6), graph: o("GraphProto", 7), opset_import: r("OperatorSetIdProto", 8),
            metadata_props: r("StringStringEntryProto", 14),
          },
        },
        GraphProto: {
          fields: {
            node: r("NodeProto", 1), name: o("string", 2), initializer: r("TensorProto", 5), doc_string: o("string", 10),
            input: r("ValueInfoProto", 11), output: r("ValueInfoProto", 12), value_info: r("ValueInfoProto", 13),
          },
        },
        TensorProto: {
          fields: { dims: r("int64", 1), data_type: o("int32", 2), name: o("string", 8), raw_data: o("bytes", 9), doc_string: o("string", 12) },
          nested: {
            DataType: { values: { UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } },
          },
        },
        TensorShapeProto: {
          fields: { dim: r("Dimension", 1) },
          nested: { Dimension: { oneofs: { value: { oneof: ["dim_value", "dim_param"] } }, fields: { dim_value: o("int64", 1), dim_param: o("string", 2) } } },
        },
        TypeProto: {
          oneofs: { value: { oneof: ["tensor_type"] } },
          fields: { tensor_type: o("Tensor", 1) },
          nested: { Tensor: { fields: { elem_type: o("int32", 1), shape: o("TensorShapeProto", 2) } } },
        },
        OperatorSetIdProto: { fields: { domain: o("string", 1), version: o("int64", 2) } },
      },
    },
  },
};

/** TensorProto.DataType values. */
export const DataType = { float32: 1, int32: 6, int64: 7, bool: 9 } as const;
export type ElemType = keyof typeof DataType;

/** AttributeProto.AttributeType values. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;

export interface TensorMsg { name: string; dims: number[]; data_type: number; raw_data: Uint8Array }
export interface AttributeMsg { name: string; type: number; f?: number; i?: number; s?: Uint8Array; ints?: number[]; floats?: number[]; t?: TensorMsg; g?: GraphMsg }
export interface NodeMsg { input: string[]; output: string[]; name: string; op_type: string; domain?: string; attribute: AttributeMsg[] }
export interface DimMsg { dim_value?: number; dim_param?: string }
export interface ValueInfoMsg { name: string; type: { tensor_type: { elem_type: number; shape: { dim: DimMsg[] } } } }
export interface GraphMsg {
  name: string; node: NodeMsg[]; initializer: TensorMsg[]; input: ValueInfoMsg[]; output: ValueInfoMsg[]; doc_string?: string;
}
export interface ModelMsg {
  ir_version: number; producer_name: string; producer_version: string; graph: GraphMsg;
  opset_import: { domain?: string; version: number }[]; metadata_props: { key: string; value: string }[]; doc_string?: string;
}

let modelType: protobuf.Type | null = null;

/** A ModelProto as the bytes of a .onnx file. */
export function encodeModelProto(m: ModelMsg): Uint8Array {
  modelType ??= protobuf.Root.fromJSON(descriptor).lookupType("onnx.ModelProto");
  return modelType.encode(modelType.fromObject(m)).finish();
}

/** A .onnx file's bytes back as a plain object (names as in onnx.proto; int64 as numbers). */
export function decodeModelProto(bytes: Uint8Array): ModelMsg {
  modelType ??= protobuf.Root.fromJSON(descriptor).lookupType("onnx.ModelProto");
  return modelType.toObject(modelType.decode(bytes), { longs: Number, arrays: true, defaults: false }) as ModelMsg;
}
