/**
 * ONNX export to files (Node): `exportOnnx` writes a module's graph to `path`, or a
 * Seq2SeqTransformer's four graphs into the directory `path` (each file written to a temporary
 * name, then renamed).
 *
 * ```ts
 * await exportOnnx(encoder, { src: randn([2, 7, 32]) }, "encoder.onnx");
 * await exportOnnx(model, {}, "out/onnx", { attention: "fused" }); // encoder_model.onnx, decoder_model.onnx, decoder_with_past_model.onnx, decoder_model_merged.onnx
 * ```
 */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Module } from "../nn/module.js";
import { Seq2SeqTransformer } from "../nn/seq2seq.js";
import { onnxGraphs, type OnnxExportOptions, type OnnxGraphFile } from "./export.js";

async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Exports `model` (see onnxGraphs for the models and example inputs): a module to the file `path`,
 * a Seq2SeqTransformer to the directory `path`. Returns the files written (path, inputs, outputs).
 */
export async function exportOnnx(model: Module, exampleInputs: object, path: string, opts: OnnxExportOptions = {}): Promise<(OnnxGraphFile & { path: string })[]> {
  const files = onnxGraphs(model, exampleInputs, opts);
  const many = model instanceof Seq2SeqTransformer;
  if (many) await mkdir(path, { recursive: true });
  const out: (OnnxGraphFile & { path: string })[] = [];
  for (const f of files) {
    const p = many ? join(path, f.name) : path;
    await writeFileAtomic(p, f.bytes);
    out.push({ ...f, path: p });
  }
  return out;
}
