/**
 * Reading Hugging Face config.json files safely (shared by the BERT and ViT imports): the text's
 * nesting is bounded before it is parsed, values are shown in error messages without ever
 * throwing (deep, cyclic or huge values), and the sizes a config claims are bounded by the
 * checkpoint it comes with before anything is built from them.
 *
 * ```ts
 * const r = parseConfigText(text);            // { value } or { problem: "nested deeper than 128 levels" }
 * showValue({ a: [1, 2] });                   // '{"a":[1,2]}'
 * layerBoundProblem(1e9, tensors.size);       // "num_hidden_layers expected at most … got 1000000000"
 * ```
 */
import { jsonDepthExceeded, MAX_JSON_DEPTH } from "../io/json.js";

/** Longest value shown in a problem (characters). */
const SHOWN = 80;

/** A config value as JSON for an error message: at most 80 characters, and never a throw. */
export function showValue(v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    return "a value that cannot be shown (too deep or cyclic)";
  }
  if (s === undefined) return String(v);
  return s.length > SHOWN ? `${s.slice(0, SHOWN)}… (${s.length} characters)` : s;
}

/** config.json text as a value, or the problem with it (too deep a nesting, not JSON). */
export function parseConfigText(text: string): { value: unknown } | { problem: string } {
  const at = jsonDepthExceeded(text);
  if (at >= 0) return { problem: `JSON nested deeper than ${MAX_JSON_DEPTH} levels (at character ${at})` };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (e) {
    return { problem: `not JSON (${(e as Error).message.slice(0, 120)})` };
  }
}

/** Unknown field names for a problem: the first 20 named, the rest counted. */
export function unknownFieldsProblem(names: readonly string[]): string {
  const shown = names.slice(0, 20).map((n) => (n.length > 40 ? `${n.slice(0, 40)}…` : n));
  return `unknown fields: ${shown.join(", ")}${names.length > 20 ? ` and ${names.length - 20} more` : ""}`;
}

/** Tensors every encoder layer has, in BERT's and ViT's checkpoints alike. */
export const TENSORS_PER_LAYER = 16;

/**
 * The problem with a layer count the checkpoint cannot hold, or null. A config of more layers than
 * the checkpoint has tensors would otherwise make the name map (16 names a layer) and the list of
 * missing tensors as large as the config claims.
 */
export function layerBoundProblem(layers: number, tensors: number): string | null {
  return layers > tensors
    ? `num_hidden_layers expected at most ${tensors} (the checkpoint has ${tensors} tensors, ${TENSORS_PER_LAYER} a layer), got ${layers}`
    : null;
}
