/**
 * The command line's value parsers (src/cli/args.ts): what each accepts, and the
 * InvalidArgumentError naming the flag, what it must be and what came for everything else.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidArgumentError } from "commander";
import { choiceArg, integerArg, positiveArg } from "../../src/cli/args.js";

/** f(v) throws InvalidArgumentError with exactly `message`. */
function refuses(f: (v: string) => unknown, v: string, message: string): void {
  assert.throws(() => f(v), (e: unknown) => e instanceof InvalidArgumentError && e.message === message, `${JSON.stringify(v)}`);
}

describe("command line value parsers", () => {
  test("integerArg: integers from min (1 by default)", () => {
    const steps = integerArg("--steps"), seed = integerArg("--seed", 0);
    assert.equal(steps("3"), 3);
    assert.equal(steps("1"), 1);
    assert.equal(seed("0"), 0);
    assert.equal(steps("1e3"), 1000);
    for (const v of ["0", "-2", "1.5", "ten", "", " ", "NaN", "Infinity"]) refuses(steps, v, `--steps must be an integer >= 1, got "${v}"`);
    refuses(seed, "-1", `--seed must be an integer >= 0, got "-1"`);
  });

  test("positiveArg: finite numbers above 0", () => {
    const lr = positiveArg("--lr");
    assert.equal(lr("0.001"), 0.001);
    assert.equal(lr("2"), 2);
    for (const v of ["0", "-1", "Infinity", "abc", ""]) refuses(lr, v, `--lr must be a positive number, got "${v}"`);
  });

  test("choiceArg: one of the values as written", () => {
    const arch = choiceArg("--arch", ["vit", "hybrid"] as const);
    assert.equal(arch("vit"), "vit");
    assert.equal(arch("hybrid"), "hybrid");
    for (const v of ["VIT", "cnn", ""]) refuses(arch, v, `--arch must be one of vit, hybrid, got "${v}"`);
  });
});
