/**
 * The `qkv classify` command: train a Vision Transformer (or the CNN-stem hybrid) on MNIST or
 * Fashion-MNIST, score a model on the official test split, classify PNG images.
 *
 * ```sh
 * npx qkv classify train --data mnist --epochs 30 --out runs/classify-mnist
 * npx qkv classify eval --data fashion-mnist              # last line: accuracy: <percent>%
 * npx qkv classify run digit.png                          # the top 3 classes with their probabilities
 * npx qkv classify run digit.png --viz digit-viz.html      # and the image view of the attention
 * ```
 */
import { stat } from "node:fs/promises";
import { Command } from "commander";
import { integerArg, positiveArg, choiceArg } from "../../cli/args.js";
import { noGrad, noGradAsync } from "../../autograd/graph.js";
import { anyOnDevice, withModelOnHost } from "../../backend/host-copies.js";
import { getBackend } from "../../backend/registry.js";
import { softmax } from "../../ops/softmax.js";
import { FormatError, ValueError } from "../../tensor/errors.js";
import { imagesToTensor } from "./batches.js";
import { DATASETS, DATASET_NAMES, type DatasetName } from "./datasets.js";
import { formatAccuracyLine, scoreImages, scoreImagesAsync } from "./evaluate.js";
import { loadImageSet } from "./idx-files.js";
import type { ClassifierBundle, ClassifierKind } from "./model-file.js";
import { writeAtomic } from "../../io/files.js";
import { loadClassifierDir, modelFileOf, shippedModelDir } from "./node-files.js";
import { readPngImage } from "./png.js";
import { trainClassifier } from "./train.js";
import { classifierAttentionPage } from "./viz.js";

const dataName = choiceArg("--data", DATASET_NAMES);
const archName = choiceArg<ClassifierKind>("--arch", ["vit", "hybrid"]);

/** The model at `path`; a missing default model says how to train it. */
async function loadModel(cmd: string, path: string, dataset: DatasetName | undefined): Promise<ClassifierBundle> {
  const file = modelFileOf(path);
  if (!(await stat(file).then(() => true, () => false))) {
    const d = dataset ?? "mnist";
    throw new FormatError(cmd, "--model", `a trained model (${file})`, "no such file",
      `${cmd}: --model expected a trained model (${file}), got no such file: train one with \`npx qkv classify train --data ${d} --out ${path}\``);
  }
  const bundle = await loadClassifierDir(path);
  if (dataset !== undefined && bundle.dataset !== dataset) throw new ValueError(cmd, "--model", `a ${dataset} model`, `a ${bundle.dataset} model (${file})`);
  return bundle;
}

interface TrainCliOptions {
  data: DatasetName; dataDir?: string; arch: ClassifierKind; epochs?: number; steps?: number; minutes?: number; out?: string; resume?: boolean; seed: number;
  batchSize?: number; lr?: number; dim?: number; depth?: number; heads?: number; float32?: boolean;
}

/** Adds `classify` (run, train, eval) to the program. */
export function registerClassifyCommands(program: Command): void {
  const cmd = program.command("classify")
    .description("image classification with a Vision Transformer on MNIST / Fashion-MNIST: classify PNG images (run, the default);\nsubcommands: train, eval");

  cmd.command("run", { isDefault: true })
    .description("print the top 3 classes of each PNG image with their probabilities (28 x 28; any colour type; a light background is inverted)")
    .argument("<images...>", "PNG files")
    .option("--model <path>", "model directory (or its model.safetensors)", shippedModelDir("mnist"))
    .option("--viz <file.html>", "also write the image view of the attention (rollout, attention × gradient, every layer and head) of the first image")
    .action(async (images: string[], o: { model: string; viz?: string }) => {
      const op = "qkv classify run";
      const bundle = await loadModel(op, o.model, undefined);
      const { model } = bundle;
      model.toDevice(getBackend()); // a no-op on a CPU backend
      const onDevice = anyOnDevice(model.parameters());
      const [H, W] = model.config.imageSize;
      for (const [n, path] of images.entries()) {
        const { pixels, inverted } = await readPngImage(path, [H, W], op);
        const { x } = imagesToTensor({ images: pixels, labels: new Uint8Array(1), count: 1, height: H, width: W }, 0, 1, bundle.normalize);
        // [1, K]: on a device, run there and read back
        const probs = onDevice ? await noGradAsync(() => softmax(model.forward(x), -1).read()) : noGrad(() => softmax(model.forward(x), -1)).data;
        const top = Array.from(probs, (p, k) => [Number(p), k] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 3);
        if (images.length > 1) console.log(`${n ? "\n" : ""}${path}${inverted ? " (light background: inverted)" : ""}`);
        else if (inverted) console.error("note: light background: the image was inverted (the model reads light strokes on dark)");
        for (const [p, k] of top) console.log(`${bundle.classes[k]}: ${(100 * p).toFixed(2)}%`);
        if (n === 0 && o.viz) {
          // the image view runs the model on the host (a device model's weights read back for it)
          const page = (): string => classifierAttentionPage(bundle, pixels, { op, source: path });
          await writeAtomic(o.viz, await withModelOnHost(model, page));
        }
      }
      if (o.viz) console.error(`attention of every layer and head over ${images[0]}: ${o.viz}`);
    });

  cmd.command("eval")
    .description("score a model on the official test split (10,000 images) and print accuracy: <percent>% as the last line")
    .requiredOption("--data <name>", `dataset: ${DATASET_NAMES.join(" or ")}`, dataName)
    .option("--model <path>", "model directory (or its model.safetensors); default models/classify-<data>")
    .option("--data-dir <dir>", "directory with the IDX files (default: where the dataset's package puts them)")
    .action(async (o: { data: DatasetName; model?: string; dataDir?: string }) => {
      const op = "qkv classify eval";
      const bundle = await loadModel(op, o.model ?? shippedModelDir(o.data), o.data);
      bundle.model.toDevice(getBackend()); // a no-op on a CPU backend
      const test = await loadImageSet(o.data, "test", o.dataDir !== undefined ? { dataDir: o.dataDir } : {});
      const t0 = performance.now();
      const r = anyOnDevice(bundle.model.parameters()) ? await scoreImagesAsync(bundle.model, test, bundle.normalize) : scoreImages(bundle.model, test, bundle.normalize);
      console.log(`${DATASETS[o.data].title} test: ${r.total.toLocaleString("en-US")} images in ${((performance.now() - t0) / 1000).toFixed(1)} s, loss ${r.loss.toFixed(4)}`);
      for (const [k, [right, all]] of r.perClass.entries()) console.log(`  ${bundle.classes[k]!.padEnd(12)} ${(all ? (100 * right) / all : 0).toFixed(2).padStart(6)}% of ${all}`);
      console.log(formatAccuracyLine(r.accuracy));
    });

  cmd.command("train")
    .description("train a classifier (progress, validation accuracy per epoch, checkpoints and --resume; the same seed gives the same run)")
    .requiredOption("--data <name>", `dataset: ${DATASET_NAMES.join(" or ")}`, dataName)
    .option("--arch <kind>", "vit, or hybrid (a CNN stem feeding the encoder)", archName, "vit")
    .option("--epochs <n>", "passes over the training images (the schedule's length)", integerArg("--epochs"), 30)
    .option("--steps <n>", "stop after this many updates in all (and make the schedule this long)", integerArg("--steps"))
    .option("--minutes <m>", "stop after this many minutes", positiveArg("--minutes"))
    .option("--out <dir>", "output directory (model.safetensors, checkpoints/, log.jsonl); default runs/classify-<data>")
    .option("--resume", "continue from the latest checkpoint in --out")
    .option("--seed <n>", "seed for data order, augmentation, initialization and dropout", integerArg("--seed", 0), 0)
    .option("--data-dir <dir>", "directory with the IDX files (default: where the dataset's package puts them)")
    .option("--batch-size <n>", "images per step (default 128)", integerArg("--batch-size"))
    .option("--lr <x>", "peak learning rate (default 1e-3)", positiveArg("--lr"))
    .option("--dim <n>", "token width (default 64)", integerArg("--dim"))
    .option("--depth <n>", "encoder blocks (default 6)", integerArg("--depth"))
    .option("--heads <n>", "attention heads (default 4)", integerArg("--heads"))
    .option("--float32", "save float32 weights (default F16)")
    .action(async (o: TrainCliOptions) => {
      await trainClassifier({
        dataset: o.data, arch: o.arch, outDir: o.out ?? `runs/classify-${o.data}`, seed: o.seed, epochs: o.epochs,
        ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}), ...(o.steps !== undefined ? { steps: o.steps } : {}),
        ...(o.minutes !== undefined ? { minutes: o.minutes } : {}), ...(o.resume ? { resume: true } : {}),
        ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}), ...(o.lr !== undefined ? { lr: o.lr } : {}),
        ...(o.dim !== undefined ? { dim: o.dim } : {}), ...(o.depth !== undefined ? { depth: o.depth } : {}),
        ...(o.heads !== undefined ? { heads: o.heads } : {}), ...(o.float32 ? { float32: true } : {}),
      });
    });
}
