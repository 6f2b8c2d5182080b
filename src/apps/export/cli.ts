/**
 * The `qkv export` command: writes a model directory's model as ONNX graphs (src/onnx). A
 * sequence-to-sequence text model (translate) gives its generation graphs with tokenizer.json,
 * config.json, generation_config.json and tokenizer_config.json beside them (src/onnx/hf-config.ts:
 * the directory loads in transformers.js); the extractive summarizer (a SpanExtractor) gives model.onnx (input_ids ->
 * start_logits, end_logits) and tokenizer.json; an image classifier (qkv classify) gives
 * model.onnx, its class names, dataset and input normalization in the file's metadata.
 *
 * ```sh
 * npx qkv export --format onnx --model models/translate-en-es --out out/translate-onnx
 * npx qkv export --format onnx --model runs/translate --out out/fused --attention fused
 * npx qkv export --format onnx --model models/summarize-debian --out out/summarize-onnx --attention opset23
 * npx qkv export --format onnx --model runs/classify-mnist --out out/classify-onnx
 * ```
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { writeAtomicAll } from "../../io/files.js";
import { loadSafetensorsHeader } from "../../io/safetensors-node.js";
import { SpanExtractor } from "../../nn/span-extractor.js";
import { attentionForms } from "../../onnx/emit-attention.js";
import { hfSeq2SeqConfigs } from "../../onnx/hf-config.js";
import { exportOnnx } from "../../onnx/node.js";
import { loadClassifierDir, modelFileOf } from "../classify/node-files.js";
import { loadTextModelDir } from "../text/node-files.js";

type Printable = { path: string; bytes: Uint8Array; inputs: string[]; outputs: string[]; attention: string };
const line = (f: Printable): string => `${f.path}: ${f.bytes.length} bytes, inputs ${f.inputs.length}, outputs ${f.outputs.length}, attention ${f.attention}`;

/** Adds `export` to the program. */
export function registerExportCommands(program: Command): void {
  program.command("export")
    .description("export a model directory as ONNX (opset 17, or 23 with --attention opset23; dynamic batch): a translation model\n" +
      "(model.safetensors + tokenizer.json) as encoder_model.onnx, decoder_model.onnx, decoder_with_past_model.onnx,\n" +
      "decoder_model_merged.onnx (both decoders behind an If on use_cache_branch), tokenizer.json and the Hugging Face\n" +
      "config.json, generation_config.json, tokenizer_config.json (model_type marian: loads in transformers.js);\n" +
      "a summarization model as model.onnx (input_ids -> start_logits, end_logits) and tokenizer.json; an image classifier\n" +
      "(qkv classify) as model.onnx (pixel_values -> logits, last_hidden_state)")
    .option("--format <name>", "output format (onnx)", "onnx")
    .requiredOption("--model <path>", "model directory (or its model.safetensors)")
    .requiredOption("--out <dir>", "output directory")
    .option("--attention <impl>", "plain (standard ops, any runtime), fused (ONNX Runtime's com.microsoft.MultiHeadAttention) " +
      "or opset23 (the standard Attention operator, opset 23)", "plain")
    .action(async (o: { format: string; model: string; out: string; attention: string }) => {
      if (o.format !== "onnx") throw new InvalidArgumentError(`--format must be onnx, got "${o.format}"`);
      const attention = attentionForms.find((f) => f === o.attention);
      if (!attention) throw new InvalidArgumentError(`--attention must be ${attentionForms.join(", ")}, got "${o.attention}"`);
      // the file's own metadata says what it holds; the loaders check everything else
      const { metadata } = await loadSafetensorsHeader(modelFileOf(o.model));
      if (metadata["qkv.format"] === "image-classifier") {
        const b = await loadClassifierDir(o.model);
        await mkdir(o.out, { recursive: true });
        const files = await exportOnnx(b.model.eval(), {}, join(o.out, "model.onnx"), {
          attention,
          metadata: {
            "qkv.kind": b.kind, "qkv.dataset": b.dataset, "qkv.classes": JSON.stringify(b.classes),
            "qkv.normalize": JSON.stringify({ mean: b.normalize.mean, std: b.normalize.std }),
          },
        });
        for (const f of files) console.log(line(f));
        console.log(`input: pixel_values [batch, ${b.model.config.inChannels}, ${b.model.config.imageSize.join(", ")}], pixels in [0, 1] normalized as (x - ${b.normalize.mean}) / ${b.normalize.std}; ` +
          `classes (metadata qkv.classes): ${b.classes.join(", ")}`);
        return;
      }
      const bundle = await loadTextModelDir(o.model);
      await mkdir(o.out, { recursive: true });
      const model = bundle.model.eval();
      // the tokenizer the model was loaded with (tokenizer.json as qkv writes it), and for a
      // translation model the Hugging Face configs that make the directory loadable by transformers.js
      const extra: [string, string][] = [["tokenizer.json", bundle.tokenizer.toJSON()]];
      if (!(model instanceof SpanExtractor)) extra.push(...Object.entries(hfSeq2SeqConfigs(model, bundle.tokenizer)));
      const files = await exportOnnx(model, {}, model instanceof SpanExtractor ? join(o.out, "model.onnx") : o.out,
        { attention, metadata: { "qkv.task": bundle.task } });
      await writeAtomicAll(extra.map(([name, text]) => [join(o.out, name), text]));
      for (const f of files) console.log(line(f));
      console.log(`${join(o.out, "tokenizer.json")}: the model's tokenizer`);
      if (extra.length > 1) console.log(`${extra.slice(1).map(([name]) => join(o.out, name)).join(", ")}: Hugging Face configs (model_type marian), for transformers.js`);
    });
}
