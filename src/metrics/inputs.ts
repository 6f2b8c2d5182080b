/**
 * Input checks shared by the text metrics: a corpus is a non-empty array of strings, and the
 * references line up with the hypotheses one to one.
 *
 * ```ts
 * checkCorpus(["a cat"], "hypotheses", "corpusBleu"); // ok
 * checkCorpus([], "hypotheses", "corpusBleu");        // ValueError: ... expected a non-empty array of strings, got []
 * ```
 */
import { ValueError } from "../tensor/errors.js";

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return value.length === 0 ? "[]" : `an array of ${value.length}`;
  return typeof value;
}

/** Throws unless `value` is an array of strings (non-empty unless `allowEmpty`). */
export function checkCorpus(value: unknown, arg: string, op: string, allowEmpty = false): asserts value is string[] {
  const what = allowEmpty ? "an array of strings" : "a non-empty array of strings";
  if (!Array.isArray(value) || (!allowEmpty && value.length === 0)) throw new ValueError(op, arg, what, describe(value));
  for (let i = 0; i < value.length; i++) {
    const s: unknown = value[i];
    if (typeof s !== "string") throw new ValueError(op, `${arg}[${i}]`, "a string", describe(s));
  }
}

/** Throws unless `value` is a string. */
export function checkString(value: unknown, arg: string, op: string): asserts value is string {
  if (typeof value !== "string") throw new ValueError(op, arg, "a string", describe(value));
}

/** Throws unless the two corpora have the same number of lines. */
export function checkSameLength(n: number, other: readonly unknown[], arg: string, op: string): void {
  if (other.length !== n) throw new ValueError(op, arg, `${n} lines (one per hypothesis)`, `${other.length}`);
}

/** Throws unless `value` is undefined or a boolean. */
export function checkOptionalBoolean(value: unknown, arg: string, op: string): void {
  if (value !== undefined && typeof value !== "boolean") throw new ValueError(op, arg, "a boolean", describe(value));
}

/** Throws unless `value` is undefined or a plain options object. */
export function checkOptions(value: unknown, op: string): void {
  if (value !== undefined && (value === null || typeof value !== "object" || Array.isArray(value))) {
    throw new ValueError(op, "opts", "an options object", describe(value));
  }
}
