/**
 * The kernels that ops call only for tensors on a device: selection and comparisons, reductions
 * along a dim, gathers, the negative log-likelihood, pooling, batch norm and the segment ops. Host tensors keep the ops' own
 * loops, so every host backend serves these calls with the js kernels (the host-memory device of
 * the tests runs them too); the js, native and wasm backends extend this class through
 * HostBackendBase (backend/host-arrays.ts).
 *
 * ```ts
 * class MyHostBackend extends DevicePathKernels implements Backend { ... }
 * ```
 */
import { compare } from "./compare.js";
import { groupIndices, indexSelect, indexSelectBackward } from "./gather.js";
import { nllBackward, nllForward } from "./nll.js";
import { poolNormMethods } from "./pool-norm-methods.js";
import { extreme, extremeBackward, logsumexp } from "./reduce-dim.js";
import { segmentBroadcast, segmentSoftmax, segmentSoftmaxBackward, segmentSum } from "./segment.js";
import { where } from "./select.js";

export class DevicePathKernels {
  readonly where = where;
  readonly compare = compare;
  readonly extreme = extreme;
  readonly extremeBackward = extremeBackward;
  readonly logsumexp = logsumexp;
  readonly indexSelect = indexSelect;
  readonly indexSelectBackward = indexSelectBackward;
  readonly groupIndices = groupIndices;
  readonly nllForward = nllForward;
  readonly nllBackward = nllBackward;
  readonly maxPool2d = poolNormMethods.maxPool2d;
  readonly maxPool2dBackward = poolNormMethods.maxPool2dBackward;
  readonly avgPool2d = poolNormMethods.avgPool2d;
  readonly avgPool2dBackward = poolNormMethods.avgPool2dBackward;
  readonly adaptiveAvgPool2d = poolNormMethods.adaptiveAvgPool2d;
  readonly adaptiveAvgPool2dBackward = poolNormMethods.adaptiveAvgPool2dBackward;
  readonly batchNormStats = poolNormMethods.batchNormStats;
  readonly batchNormUpdate = poolNormMethods.batchNormUpdate;
  readonly batchNormForward = poolNormMethods.batchNormForward;
  readonly batchNormBackward = poolNormMethods.batchNormBackward;
  readonly segmentSum = segmentSum;
  readonly segmentBroadcast = segmentBroadcast;
  readonly segmentSoftmax = segmentSoftmax;
  readonly segmentSoftmaxBackward = segmentSoftmaxBackward;
}
