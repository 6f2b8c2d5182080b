/**
 * An image classifier trained further in PyTorch (test/fixtures/interop/torch-vit: the CNN-stem
 * hybrid of tools/interop/make_vit_model.ts after 5 AdamW steps in tools/interop/vit_models.py,
 * written back by save_vit_model, with images and torch's outputs; made by
 * tools/interop/vit_check.py --fixture) loads into qkv with torch's outputs, and a file whose
 * tensors do not fit is refused with every mismatch named at once.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { decodeClassifier } from "../../src/apps/classify/model-file.js";
import { noGrad } from "../../src/autograd/graph.js";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.js";
import { FormatError } from "../../src/tensor/errors.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { assertClose, assertThrowsMsg } from "../helpers.js";

const dir = new URL("../fixtures/interop/torch-vit/", import.meta.url);
const bytes = new Uint8Array(readFileSync(new URL("model.safetensors", dir)));
const io = decodeSafetensors(new Uint8Array(readFileSync(new URL("io.safetensors", dir)))).tensors;

describe("a classifier trained further in PyTorch", () => {
  test("loads with torch's BatchNorm statistics; logits and tokens equal torch's within 1e-5", () => {
    const b = decodeClassifier(bytes, "torch-vit/model.safetensors");
    assert.equal(b.kind, "hybrid");
    const sd = b.model.stateDict();
    assert.equal(Number(sd["patch_embed.backbone.1.bn.num_batches_tracked"]!.data[0]), 5);
    assert.ok(Math.abs(Number(sd["patch_embed.backbone.0.bn.running_var"]!.data[0]) - 1) > 1e-3, "running_var as torch left it");
    const x = io.get("x")!;
    const [logits, features] = noGrad(() => [b.model.forward(x), b.model.features(x)]);
    assert.deepEqual(logits!.shape, io.get("logits")!.shape);
    assertClose(logits!.data, io.get("logits")!.data, 1e-5, 0);
    assertClose(features!.data, io.get("features")!.data, 1e-5, 0);
  });

  test("names and shapes that do not fit: one FormatError naming every missing, unexpected and misshapen tensor", () => {
    const { tensors, metadata } = decodeSafetensors(bytes);
    // the same number of elements as the config's (the loader compares the totals first)
    tensors.set("blocks.0.attn.qkv.weight", new Tensor(new Float32Array(72 * 24), [24, 72], "float32"));
    tensors.set("blocks.1.norm1.scale", tensors.get("blocks.1.norm1.weight")!);
    tensors.delete("blocks.1.norm1.weight");
    tensors.delete("patch_embed.backbone.1.bn.running_mean");
    tensors.set("patch_embed.backbone.1.bn.running_avg", new Tensor(new Float32Array(16), [16], "float32"));
    assertThrowsMsg(() => decodeClassifier(encodeSafetensors(tensors, metadata), "torch/model.safetensors"), FormatError,
      "loadClassifier: torch/model.safetensors: weights expected the tensors of the model's config",
      "missing keys: ", "patch_embed.backbone.1.bn.running_mean", "blocks.1.norm1.weight",
      "unexpected keys: ", "blocks.1.norm1.scale", "patch_embed.backbone.1.bn.running_avg",
      "blocks.0.attn.qkv.weight expected [72, 24], got [24, 72]");
  });
});
