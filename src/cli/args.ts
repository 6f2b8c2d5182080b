/**
 * Parsers of the command line's option values, shared by every app's commands (commander's
 * `.option(flags, help, parser, default)`): each checks one value and names its flag in the
 * InvalidArgumentError it throws, which `qkv` prints as `qkv: <message>` with exit code 1.
 *
 * ```ts
 * program.command("train")
 *   .option("--epochs <n>", "passes", integerArg("--epochs"), 30)       // an integer >= 1
 *   .option("--seed <n>", "seed", integerArg("--seed", 0), 0)           // an integer >= 0
 *   .option("--lr <x>", "learning rate", positiveArg("--lr"))
 *   .option("--arch <kind>", "vit or hybrid", choiceArg("--arch", ["vit", "hybrid"] as const), "vit");
 * ```
 */
import { InvalidArgumentError } from "commander";

/** An integer of at least `min` (default 1). */
export function integerArg(flag: string, min = 1): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
}

/** A finite number greater than 0. */
export function positiveArg(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a positive number, got "${v}"`);
    return n;
  };
}

/** One of `values`, as written. */
export function choiceArg<T extends string>(flag: string, values: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`${flag} must be one of ${values.join(", ")}, got "${v}"`);
    return v as T;
  };
}
