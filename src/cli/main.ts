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
 * npx qkv --backend webgpu demo --steps 300       # train on a GPU (npm install webgpu), else on the CPU with a notice
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
import { setBackend, availableBackends, getBackend } from "../backend/registry.js";
import type { BackendName } from "../backend/backend.js";
import { QkvError } from "../tensor/errors.js";
import { choiceArg } from "./args.js";

/**
 * `--backend webgpu`: a device from the optional webgpu package (node-gpu.ts) made the active
 * backend; without the package, a Vulkan loader or an adapter, one notice and the fastest CPU
 * backend stays active. Loaded only when asked for.
 */
async function useNodeWebGPU(): Promise<void> {
  const [{ useWebGPU }, { requestNodeGpuDevice }] = await Promise.all([import("../backend/webgpu/use.js"), import("../backend/webgpu/node-gpu.js")]);
  await useWebGPU({ device: () => requestNodeGpuDevice() });
}

/**
 * The commands that move their model to a device backend: training, text generation and image
 * classification (the others, viz, export and experiments, run on the host, so they keep a CPU
 * backend under `--backend webgpu`).
 */
const DEVICE_COMMANDS: readonly string[] = ["demo", "translate train", "summarize train", "classify train", "graph train", "graph eval", "graph compare",
  "translate run", "translate eval", "summarize run", "summarize eval", "classify run", "classify eval"];

/** "graph train" for the action command `train` of `graph` (the program's name left out). */
function commandPath(c: Command): string {
  const names: string[] = [];
  for (let x: Command | null = c; x?.parent; x = x.parent) names.unshift(x.name());
  return names.join(" ");
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command("qkv").description("qkv: self-attention with autograd, PyTorch semantics, in TypeScript").showHelpAfterError();
  program.option("--backend <name>", "compute backend: native, wasm, js, or webgpu (training commands, text generation and image classification: a GPU through the optional webgpu " +
    "package, else the fastest CPU backend with a notice) (default: the fastest CPU backend that loads)");
  registerDatesCommands(program);
  registerTextCommands(program);
  registerClassifyCommands(program);
  registerVizCommands(program);
  registerExportCommands(program);
  registerExperimentsCommands(program);
  registerGraphCommands(program);
  program.hook("preAction", async (_program, action) => {
    loadBackends();
    const b = program.opts<{ backend?: string }>().backend;
    if (b === "webgpu") {
      const cmd = commandPath(action);
      if (DEVICE_COMMANDS.includes(cmd)) await useNodeWebGPU();
      else console.warn(`qkv: --backend webgpu is for the training, generation and classification commands (${DEVICE_COMMANDS.join(", ")}); ${cmd} runs on the ${getBackend().name} backend`);
    } else if (b) {
      setBackend(choiceArg<BackendName>("--backend", availableBackends())(b));
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
