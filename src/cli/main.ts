/**
 * The `qkv` command: every application registers its subcommands from its own folder
 * (src/apps/<app>/cli.ts); this file picks the backend and turns typed errors into one line on
 * stderr and exit code 1 (under `--backend webgpu`, a GPU failure runs the command again on the CPU).
 *
 * ```sh
 * npx qkv demo
 * npx qkv translate "In the beginning was the Word."
 * npx qkv summarize eval --data data/summarization-debian/test.tsv
 * npx qkv classify eval --data mnist
 * npx qkv graph eval --data debian --model gat
 * npx qkv experiments --quick
 * npx qkv --backend webgpu demo --steps 300       # train on a GPU (npm install webgpu), else on the CPU with a notice
 * npx qkv --backend webgpu --matmul-precision fp16 demo   # every matrix product with f16 operands (shader-f16)
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
import { setBackend, availableBackends, getBackend, hostBackend } from "../backend/registry.js";
import { isGpuFailure } from "../backend/webgpu/errors.js";
import type { BackendName } from "../backend/backend.js";
import type { GemmPrecision } from "../backend/webgpu/matmul.js";
import { QkvError } from "../tensor/errors.js";
import { choiceArg } from "./args.js";

/**
 * `--backend webgpu`: a device from the optional webgpu package (node-gpu.ts) made the active
 * backend; without the package, a Vulkan loader or an adapter, one notice and the fastest CPU
 * backend stays active. Loaded only when asked for. `matmulPrecision` "fp16" on a device without
 * shader-f16 throws WebGPUUnsupportedError.
 */
async function useNodeWebGPU(o: DeviceOptions): Promise<void> {
  const [{ useWebGPU }, { requestNodeGpuDevice }] = await Promise.all([import("../backend/webgpu/use.js"), import("../backend/webgpu/node-gpu.js")]);
  await useWebGPU({ device: () => requestNodeGpuDevice(), ...(o.matmulPrecision ? { matmulPrecision: o.matmulPrecision } : {}) });
}

/** What `--backend webgpu`'s device starts with: `--matmul-precision`, when given. */
export interface DeviceOptions {
  matmulPrecision?: GemmPrecision;
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

/**
 * `argv` for running the command again on the host backend `host`: `--backend webgpu` (either
 * spelling) becomes `--backend <host>`, and `--resume` is added where the command takes it (a
 * training run then continues from its latest checkpoint, or starts anew without one).
 * `--matmul-precision`, the GPU's, is dropped.
 */
export function cpuRetryArgv(argv: readonly string[], host: string, resume: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--backend" && argv[i + 1] === "webgpu") {
      out.push(a, host);
      i++;
    } else if (a === "--matmul-precision") i++;
    else if (!a.startsWith("--matmul-precision=")) out.push(a === "--backend=webgpu" ? `--backend=${host}` : a);
  }
  if (resume && !out.includes("--resume")) out.push("--resume");
  return out;
}

export interface MainOptions {
  /** Starts `--backend webgpu`'s device (default: the webgpu package's, useNodeWebGPU); tests pass their own. */
  startDevice?: (o: DeviceOptions) => Promise<void>;
}

/**
 * Runs the qkv command of `argv` (process.argv's form). Under `--backend webgpu`, a GPU failure
 * during the command (isGpuFailure: DeviceLostError, GpuOutOfMemoryError, ShaderCompileError, a
 * device limit's WebGPUUnsupportedError) prints one notice
 * naming it and runs the command again on the fastest CPU backend, a training command from its
 * latest checkpoint (`--resume`); a second failure is reported as any other error.
 */
export async function main(argv: string[], opts: MainOptions = {}): Promise<void> {
  let ran: Command | null = null;
  const program = new Command("qkv").description("qkv: self-attention with autograd, PyTorch semantics, in TypeScript").showHelpAfterError();
  program.option("--backend <name>", "compute backend: native, wasm, js, or webgpu (training commands, text generation and image classification: a GPU through the optional webgpu " +
    "package, else the fastest CPU backend with a notice) (default: the fastest CPU backend that loads)");
  program.option("--matmul-precision <p>", "with --backend webgpu: fp16 takes every matrix product with f16 operands and f32 sums (the GPU needs " +
    "shader-f16; each product off by about 3 * 2^-11 of the sum of |a b|), or fp32 (default)", choiceArg<GemmPrecision>("--matmul-precision", ["fp32", "fp16"]));
  registerDatesCommands(program);
  registerTextCommands(program);
  registerClassifyCommands(program);
  registerVizCommands(program);
  registerExportCommands(program);
  registerExperimentsCommands(program);
  registerGraphCommands(program);
  program.hook("preAction", async (_program, action) => {
    ran = action;
    loadBackends();
    const { backend: b, matmulPrecision } = program.opts<{ backend?: string; matmulPrecision?: GemmPrecision }>();
    if (matmulPrecision && b !== "webgpu") {
      throw new InvalidArgumentError(`--matmul-precision is the GPU's: it needs --backend webgpu, got ${b ? `--backend ${b}` : "no --backend"}`);
    }
    if (b === "webgpu") {
      const cmd = commandPath(action);
      if (DEVICE_COMMANDS.includes(cmd)) await (opts.startDevice ?? useNodeWebGPU)(matmulPrecision ? { matmulPrecision } : {});
      else console.warn(`qkv: --backend webgpu is for the training, generation and classification commands (${DEVICE_COMMANDS.join(", ")}); ${cmd} runs on the ${getBackend().name} backend`);
    } else if (b) {
      setBackend(choiceArg<BackendName>("--backend", availableBackends())(b));
    }
  });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const action = ran as Command | null;
    if (isGpuFailure(e) && action && getBackend().kind === "device") {
      const host = hostBackend().name, resume = action.options.some((o) => o.long === "--resume");
      console.warn(`qkv: the GPU could not go on (${e.name}: ${e.message.replaceAll("\n", " ")}); running ${commandPath(action)} again on the ${host} backend${resume ? " from its latest checkpoint" : ""}`);
      setBackend(host);
      await main(cpuRetryArgv(argv, host, resume), opts);
      return;
    }
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
