/**
 * The graph app's files (Node): the shipped datasets by name, bounded dataset reads, and model
 * files (safetensors: the classifier's weights, its config and the dataset it was trained on in
 * the metadata), each fault a FormatError naming the file.
 *
 * ```ts
 * const ds = await loadGraphDataset("karate");                 // or a path to a qkv-graph JSON file
 * await saveGraphModel("runs/karate-gat.safetensors", model, ds);
 * const model = await loadGraphModel("runs/karate-gat.safetensors", ds);
 * ```
 */
import { showValue } from "../../interop/hf-config.js";
import { openRegularFile, readBounded } from "../../io/files.js";
import { parseJsonBounded } from "../../io/json.js";
import { loadSafetensors, saveSafetensors } from "../../io/safetensors-node.js";
import { FormatError, StateDictError } from "../../tensor/errors.js";
import { packageRoot } from "../text/paths.js";
import { parseGraphDataset, type GraphDataset } from "./data.js";
import { NodeClassifier, type GraphModelConfig, type GraphModelKind } from "./model.js";

/** The shipped datasets: name -> file under the package root. */
export const GRAPH_DATASETS = {
  karate: "data/karate-club/karate-club.json",
  debian: "data/debian-packages/debian-packages.json",
} as const;
export type GraphDatasetName = keyof typeof GRAPH_DATASETS;

/** Largest dataset file read (bytes). */
export const MAX_GRAPH_FILE_BYTES = 64 * 2 ** 20;
/** Largest model file read (bytes). */
export const MAX_GRAPH_MODEL_BYTES = 64 * 2 ** 20;

const MODEL_KIND = "qkv-graph-node-classifier";

/** A shipped dataset by name ("karate", "debian"), or a qkv-graph JSON file by path. */
export async function loadGraphDataset(nameOrPath: string): Promise<GraphDataset> {
  const file = nameOrPath in GRAPH_DATASETS ? packageRoot(GRAPH_DATASETS[nameOrPath as GraphDatasetName]) : nameOrPath;
  const buf = await readBounded(file, MAX_GRAPH_FILE_BYTES, "loadGraphDataset");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    throw new FormatError("loadGraphDataset", "file", "UTF-8 text", "invalid UTF-8", `loadGraphDataset: file expected UTF-8 text, got invalid UTF-8 (file ${file})`);
  }
  return parseGraphDataset(text, file);
}

/** Writes the model's weights (float32) with its config and the dataset's name and size. */
export async function saveGraphModel(path: string, model: NodeClassifier, ds: GraphDataset): Promise<void> {
  const meta = { ...model.config, dataset: ds.name, nodes: ds.nodes.length };
  await saveSafetensors(path, model.stateDict(), { "qkv.kind": MODEL_KIND, "qkv.graph": JSON.stringify(meta) });
}

/** A model written by saveGraphModel for `ds`; a file of another kind, model or dataset is a FormatError naming it. */
export async function loadGraphModel(path: string, ds: GraphDataset): Promise<NodeClassifier> {
  const op = "loadGraphModel";
  const fail = (field: string, expected: string, actual: string): never => {
    throw new FormatError(op, field, expected, actual, `${op}: ${field} expected ${expected}, got ${actual} (file ${path})`);
  };
  const { fh, size } = await openRegularFile(path, op);
  await fh.close();
  if (size > MAX_GRAPH_MODEL_BYTES) fail("file", `at most ${MAX_GRAPH_MODEL_BYTES} bytes`, `${size} bytes`);
  const st = await loadSafetensors(path);
  const kind = st.metadata["qkv.kind"];
  if (kind !== MODEL_KIND) fail("metadata qkv.kind", `"${MODEL_KIND}" (a model written by qkv graph train)`, kind === undefined ? "none" : JSON.stringify(kind.slice(0, 60)));
  const meta = parseJsonBounded(st.metadata["qkv.graph"] ?? "", op, "metadata qkv.graph", path) as Record<string, unknown> | null;
  if (meta === null || typeof meta !== "object") return fail("metadata qkv.graph", "a JSON object", showValue(meta));
  if (meta.dataset !== ds.name || meta.nodes !== ds.nodes.length) {
    fail("metadata qkv.graph", `a model of the dataset ${ds.name} (${ds.nodes.length} nodes)`, `a model of ${showValue(meta.dataset)} (${showValue(meta.nodes)} nodes)`);
  }
  const F = ds.features ? ds.features.vocabulary.length : ds.nodes.length, C = ds.classes.length;
  if (meta.inFeatures !== F || meta.classes !== C) {
    fail("metadata qkv.graph", `a model of ${F} input features and ${C} classes (the dataset's)`, `${showValue(meta.inFeatures)} and ${showValue(meta.classes)}`);
  }
  let model: NodeClassifier;
  try {
    const config: GraphModelConfig = { kind: meta.kind as GraphModelKind, inFeatures: F, classes: C, hidden: Number(meta.hidden), heads: Number(meta.heads), dropout: Number(meta.dropout) };
    model = new NodeClassifier(config);
  } catch (e) {
    return fail("metadata qkv.graph", "a valid model config", e instanceof Error ? e.message : String(e));
  }
  try {
    model.loadStateDict(st.tensors);
  } catch (e) {
    if (e instanceof StateDictError) fail("tensors", `the ${model.config.kind} model's weights`, e.actual);
    throw e;
  }
  model.eval();
  return model;
}
