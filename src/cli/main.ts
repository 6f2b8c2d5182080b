/**
 * The `qkv` command: every application registers its subcommands from its own folder
 * (src/apps/<app>/cli.ts); this file picks the backend and turns typed errors into one line on
 * stderr and exit code 1.
 *
 * ```sh
 * npx qkv demo
 * npx qkv translate "In the beginning was the Word."
 * npx qkv summarize eval --data data/summarization-debian/test.tsv
 * npx qkv classify eval --data mnist
 * npx qkv graph eval --data debian --model gat
 * npx qkv experiments --quick
 * ```
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { registerClassifyCommands } from "../apps/classify/cli.js";
import { registerDatesCommands } from "../apps/dates/cli.js";
import { registerExperimentsCommands } from "../apps/experiments/cli.js";
import { registerExportCommands } from "../apps/export/cli.js";
import { registerGraphCommands } from "../apps/graph/cli.js";
import { registerTextCommands } from "../apps/text/cli.js";
import { registerVizCommands } from "../apps/viz/cli.js";
import { loadBackends } from "../node.js";
import { setBackend, availableBackends } from "../backend/registry.js";
import type { BackendName } from "../backend/backend.js";
import { QkvError } from "../tensor/errors.js";

export async function main(argv: string[]): Promise<void> {
  const program = new Command("qkv").description("qkv: self-attention with autograd, PyTorch semantics, in TypeScript").showHelpAfterError();
  program.option("--backend <name>", "compute backend: native, wasm or js (default: the fastest that loads)");
  registerDatesCommands(program);
  registerTextCommands(program);
  registerClassifyCommands(program);
  registerVizCommands(program);
  registerExportCommands(program);
  registerExperimentsCommands(program);
  registerGraphCommands(program);
  program.hook("preAction", () => {
    loadBackends();
    const b = program.opts<{ backend?: string }>().backend;
    if (b) {
      if (!(availableBackends() as string[]).includes(b)) throw new InvalidArgumentError(`--backend must be one of ${availableBackends().join(", ")}, got "${b}"`);
      setBackend(b as BackendName);
    }
  });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof QkvError || e instanceof InvalidArgumentError) {
      console.error(`qkv: ${e.message}`);
      process.exitCode = 1;
      return;
    }
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    throw e;
  }
}
