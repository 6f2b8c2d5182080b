/** The library core bundles for browsers: no Node built-ins reachable from src/index.ts. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { build } from "esbuild";

const entry = (f: string): string => new URL(`../../src/${f}`, import.meta.url).pathname;

async function bundle(file: string) {
  return build({ entryPoints: [entry(file)], bundle: true, platform: "browser", format: "esm", write: false, logLevel: "silent" });
}

describe("browser bundle", () => {
  test("src/index.ts bundles for the browser platform", async () => {
    const r = await bundle("index.ts");
    assert.equal(r.errors.length, 0);
    const code = r.outputFiles[0]!.text;
    assert.ok(code.length > 10000);
    assert.ok(!/from\s*["']node:/.test(code) && !/require\(["'](node:)?(fs|path|os|child_process)["']\)/.test(code), "no Node imports in the bundle");
  });
  test("the Node entry does not (so the check above can fail)", async () => {
    await assert.rejects(bundle("node.ts"));
  });
});
