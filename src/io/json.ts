/**
 * Bounded JSON for untrusted text: the nesting depth is checked by a linear scan before
 * `JSON.parse` builds anything, so a document of 100,000 nested arrays is a FormatError instead of
 * a stack overflow in whatever walks or prints it afterwards (serde_json, which safetensors'
 * reference reader uses, stops at the same depth of 128).
 *
 * ```ts
 * const header = parseJsonBounded(text, "decodeSafetensors", "header"); // FormatError past depth 128
 * ```
 */
import { FormatError } from "../tensor/errors.js";

/** Deepest nesting of arrays and objects accepted in any JSON read from a file. */
export const MAX_JSON_DEPTH = 128;

/**
 * The first position at which `text` nests arrays and objects deeper than `maxDepth`, or -1.
 * Brackets inside strings do not count; the text need not be valid JSON.
 */
export function jsonDepthExceeded(text: string, maxDepth = MAX_JSON_DEPTH): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return -1;
}

/**
 * `JSON.parse` after the depth check; a syntax error or too deep a nesting is a FormatError of
 * `op` naming `field` (and `source`, when given, at the end of the message).
 */
export function parseJsonBounded(text: string, op: string, field: string, source?: string): unknown {
  const where = source === undefined ? "" : ` (${source})`;
  const fail = (expected: string, actual: string): never => {
    throw new FormatError(op, field, expected, actual, `${op}: ${field} expected ${expected}, got ${actual}${where}`);
  };
  const at = jsonDepthExceeded(text);
  if (at >= 0) fail(`JSON nested at most ${MAX_JSON_DEPTH} deep`, `deeper nesting at character ${at}`);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    return fail("valid JSON", `a parse error (${e instanceof Error ? e.message.slice(0, 120) : String(e)})`);
  }
}
