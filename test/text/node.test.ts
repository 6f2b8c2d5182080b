import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { BpeTokenizer } from "../../src/text/bpe.js";
import { loadTokenizer, MAX_TOKENIZER_FILE_BYTES, saveTokenizer } from "../../src/text/node.js";
import { FormatError } from "../../src/tensor/errors.js";

describe("loadTokenizer / saveTokenizer", async () => {
  const dir = await mkdtemp(join(tmpdir(), "qkv-tok-"));
  after(() => rm(dir, { recursive: true, force: true }));
  const tok = BpeTokenizer.train(["Y dijo Dios: Sea la luz: y fué la luz.", "God said, \"Let there be light,\" and there was light."], { vocabSize: 300 });

  test("a saved tokenizer loads back the same, with no temporary file left", async () => {
    const path = join(dir, "tokenizer.json");
    await saveTokenizer(path, tok);
    await saveTokenizer(path, tok); // over an existing file
    assert.equal(await readFile(path, "utf8"), tok.toJSON());
    const back = await loadTokenizer(path);
    assert.equal(back.toJSON(), tok.toJSON());
    assert.deepEqual(await readdir(dir), ["tokenizer.json"]);
  });

  test("a file over the size limit is refused before it is read; a malformed one names the path", async () => {
    const big = join(dir, "big.json");
    await writeFile(big, "");
    await truncate(big, MAX_TOKENIZER_FILE_BYTES + 1);
    await assert.rejects(loadTokenizer(big), (e: unknown) => e instanceof FormatError && e.message === `loadTokenizer: file expected at most ${MAX_TOKENIZER_FILE_BYTES} bytes, got ${MAX_TOKENIZER_FILE_BYTES + 1} bytes (${big})`);
    const bad = join(dir, "bad.json");
    await writeFile(bad, tok.toJSON().slice(0, 500));
    await assert.rejects(loadTokenizer(bad), (e: unknown) => e instanceof FormatError && e.message.endsWith(`(${bad})`));
    await rm(big);
    await rm(bad);
  });

  test("a failed save leaves the target as it was and no temporary file", async () => {
    const path = join(dir, "missing-dir", "tokenizer.json");
    await assert.rejects(saveTokenizer(path, tok), /ENOENT/);
    await assert.rejects(saveTokenizer(join(dir, "x.json"), {} as BpeTokenizer), /saveTokenizer: tok expected a BpeTokenizer/);
    assert.deepEqual(await readdir(dir), ["tokenizer.json"]);
  });
});
