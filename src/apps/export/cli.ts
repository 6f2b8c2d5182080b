/**
 * The `qkv export` command: writes a model directory's model as ONNX graphs (src/onnx), with its
 * tokenizer.json beside them.
 *
 * ```sh
 * npx qkv export --format onnx --model models/translate-en-es --out out/translate-onnx
 * npx qkv export --format onnx --model runs/translate --out out/fused --attention fused
 * ```
 */
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { loadTextModelDir } from "../text/node-files.js";
import { exportOnnx } from "../../onnx/node.js";

/** Adds `export` to the program. */
export function registerExportCommands(program: Command): void {
  program.command("export")
    .description("export a model directory (model.safetensors + tokenizer.json) as ONNX: encoder_model.onnx, decoder_model.onnx,\n" +
      "decoder_with_past_model.onnx (opset 17, dynamic batch and lengths) and tokenizer.json in --out")
    .option("--format <name>", "output format (onnx)", "onnx")
    .requiredOption("--model <path>", "model directory (or its model.safetensors)")
    .requiredOption("--out <dir>", "output directory")
    .option("--attention <impl>", "plain (standard ops, any runtime) or fused (ONNX Runtime's com.microsoft.MultiHeadAttention)", "plain")
    .action(async (o: { format: string; model: string; out: string; attention: string }) => {
      if (o.format !== "onnx") throw new InvalidArgumentError(`--format must be onnx, got "${o.format}"`);
      if (o.attention !== "plain" && o.attention !== "fused") throw new InvalidArgumentError(`--attention must be plain or fused, got "${o.attention}"`);
      const bundle = await loadTextModelDir(o.model);
      await mkdir(o.out, { recursive: true });
      const files = await exportOnnx(bundle.model.eval(), {}, o.out, { attention: o.attention });
      const dir = o.model.endsWith(".safetensors") ? dirname(o.model) : o.model;
      await copyFile(join(dir, "tokenizer.json"), join(o.out, "tokenizer.json"));
      for (const f of files) console.log(`${f.path}: ${f.bytes.length} bytes, inputs ${f.inputs.length}, outputs ${f.outputs.length}, attention ${f.attention}`);
      console.log(`${join(o.out, "tokenizer.json")}: the model's tokenizer`);
    });
}
