/** The js backend: the reference kernels, always present, the only one for float64. */
import type { Backend } from "../backend.js";
import { attentionBackward, attentionForward } from "./attention.js";
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward } from "./conv.js";
import { binary, unary } from "./elementwise.js";
import { dropout } from "./dropout.js";
import { HostBackendBase } from "../host-arrays.js";
import { stridedCopy } from "./copy.js";
import { layerNorm, layerNormBackward } from "./layernorm.js";
import { linearAttentionBackward, linearAttentionForward } from "./linear-attention.js";
import { matmul } from "./matmul.js";
import { softmax, softmaxBackward } from "./softmax.js";
import { sparseAttentionBackward, sparseAttentionForward } from "./sparse-attention.js";

class JsBackend extends HostBackendBase implements Backend {
  readonly name = "js" as const;
  matmul = matmul;
  unary = unary;
  binary = binary;
  dropout = dropout;
  stridedCopy = stridedCopy;
  softmax = softmax;
  softmaxBackward = softmaxBackward;
  layerNorm = layerNorm;
  layerNormBackward = layerNormBackward;
  attentionForward = attentionForward;
  attentionBackward = attentionBackward;
  conv2dForward = conv2dForward;
  conv2dBackwardInput = conv2dBackwardInput;
  conv2dBackwardWeight = conv2dBackwardWeight;
  sparseAttentionForward = sparseAttentionForward;
  sparseAttentionBackward = sparseAttentionBackward;
  linearAttentionForward = linearAttentionForward;
  linearAttentionBackward = linearAttentionBackward;
}

export const jsBackend: Backend = new JsBackend();
