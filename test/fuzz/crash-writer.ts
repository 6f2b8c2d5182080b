/**
 * Child process of the crash-safety test: saves two different checkpoints (step 1 and step 2) to
 * one path, and a text model directory, over and over, printing "ready" once both exist. The test
 * kills it with SIGKILL at random moments and checks that what is on disk is whole.
 *
 * node --import tsx test/fuzz/crash-writer.ts <dir>
 */
import { join } from "node:path";
import { saveTextModelDir } from "../../src/apps/text/node-files.js";
import { saveSafetensors } from "../../src/io/safetensors-node.js";
import { full } from "../../src/tensor/tensor.js";
import { saveCheckpoint } from "../../src/train/node/checkpoint.js";
import { crashFixtures } from "./crash-fixtures.js";

const dir = process.argv[2]!;
const { states, bundles } = crashFixtures();
for (let i = 0; ; i++) {
  const v = i % 2;
  await saveCheckpoint(join(dir, "ckpt.safetensors"), states[v]!);
  await saveSafetensors(join(dir, "plain.safetensors"), { w: full([64, 1024], v + 1) }, { version: String(v + 1) });
  await saveTextModelDir(join(dir, "model"), bundles[v]!);
  if (i === 1) process.stdout.write("ready\n");
}
