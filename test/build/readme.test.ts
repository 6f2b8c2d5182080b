/** The README's usage example runs as written (importing the built package by its name). */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { describe, test } from "node:test";

const root = new URL("../../", import.meta.url).pathname;

describe("README", () => {
  test("the usage example runs and prints what its comments say", () => {
    const readme = readFileSync(`${root}README.md`, "utf8");
    const use = readme.slice(readme.indexOf("## Use"));
    const code = /```ts\n([\s\S]*?)```/.exec(use)?.[1];
    assert.ok(code, "README has a ts example under ## Use");
    const file = `${root}test/build/.readme-example.ts`;
    writeFileSync(file, code);
    try {
      const out = execFileSync(process.execPath, ["--import", "tsx", file], { encoding: "utf8", cwd: root });
      const expected = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
      assert.deepEqual(out.trim().split("\n"), expected);
    } finally {
      rmSync(file, { force: true });
    }
  });
  test("the README gives the set-up commands", () => {
    const readme = readFileSync(`${root}README.md`, "utf8");
    assert.match(readme, /npm install\nnpm test/);
  });
});
