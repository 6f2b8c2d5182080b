/** The js backend: the reference kernels, always present, the only one for float64. */
import type { Backend } from "../backend.js";
import { attentionBackward, attentionForward } from "./attention.js";
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward } from "./conv.js";
import { binary, unary } from "./elementwise.js";
import { dropout } from "./dropout.js";
import { indexSelect, indexSelectBackward } from "./gather.js";
import { hostAlloc, hostRead, hostUpload, hostView } from "../host-arrays.js";
import { stridedCopy } from "./copy.js";
import { layerNorm, layerNormBackward } from "./layernorm.js";
import { linearAttentionBackward, linearAttentionForward } from "./linear-attention.js";
import { matmul } from "./matmul.js";
import { extreme, extremeBackward, logsumexp } from "./reduce-dim.js";
import { where } from "./select.js";
import { compare } from "./compare.js";
import { poolNormMethods } from "./pool-norm-methods.js";
import { segmentBroadcast, segmentSoftmax, segmentSoftmaxBackward, segmentSum } from "./segment.js";
import { softmax, softmaxBackward } from "./softmax.js";
import { sparseAttentionBackward, sparseAttentionForward } from "./sparse-attention.js";

class JsBackend implements Backend {
  readonly name = "js" as const;
  readonly kind = "host" as const;
  alloc = hostAlloc;
  upload = hostUpload;
  read = hostRead;
  view = hostView;
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
  // selection, reductions along a dim, gathers
  where = where;
  compare = compare;
  extreme = extreme;
  extremeBackward = extremeBackward;
  logsumexp = logsumexp;
  indexSelect = indexSelect;
  indexSelectBackward = indexSelectBackward;

  // ---- pooling and batch norm: the js kernels (pool-norm-methods.ts)
  maxPool2d = poolNormMethods.maxPool2d;
  maxPool2dBackward = poolNormMethods.maxPool2dBackward;
  avgPool2d = poolNormMethods.avgPool2d;
  avgPool2dBackward = poolNormMethods.avgPool2dBackward;
  adaptiveAvgPool2d = poolNormMethods.adaptiveAvgPool2d;
  adaptiveAvgPool2dBackward = poolNormMethods.adaptiveAvgPool2dBackward;
  batchNormStats = poolNormMethods.batchNormStats;
  batchNormUpdate = poolNormMethods.batchNormUpdate;
  batchNormForward = poolNormMethods.batchNormForward;
  batchNormBackward = poolNormMethods.batchNormBackward;
  // ---- end pooling and batch norm
  // ---- segment ops: the js kernels
  segmentSum = segmentSum;
  segmentBroadcast = segmentBroadcast;
  segmentSoftmax = segmentSoftmax;
  segmentSoftmaxBackward = segmentSoftmaxBackward;
  // ---- end segment ops
}

export const jsBackend: Backend = new JsBackend();
