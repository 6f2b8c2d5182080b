/**
 * Median wall time of one ViT training step (the `qkv classify` default: dim 64, depth 6, 4 heads,
 * MLP ratio 2, batch 128, AdamW, cross-entropy, backward, step, freeGraph) over 20 steps after 3 of
 * warm-up, on the backend loadBackends picks, in wall time and in this process's CPU time (which
 * other load on the machine disturbs less). Used to check that device-tensor storage leaves the
 * CPU path's speed as it was (docs/device-tensors-status.md).
 *
 *   QKV_NUM_THREADS=1 npx tsx bench/vit-step-median.ts [steps]
 */
import { freeGraph } from "../src/autograd/free-graph.js";
import { crossEntropy } from "../src/ops/functional.js";
import { getBackend } from "../src/backend/registry.js";
import { loadBackends } from "../src/node.js";
import { VisionTransformer } from "../src/nn/vit.js";
import { AdamW } from "../src/optim/adam.js";
import { Generator } from "../src/tensor/rng.js";
import { randint, randn } from "../src/tensor/tensor.js";

loadBackends({ quiet: true });
const steps = Number(process.argv[2] ?? 20);
const vit = new VisionTransformer({ imageSize: [28, 28], patchSize: 4, inChannels: 1, numClasses: 10, dim: 64, depth: 6, heads: 4, mlpRatio: 2 },
  { generator: new Generator(1) });
const opt = new AdamW(vit.parameters(), { lr: 1e-3 });
const x = randn([128, 1, 28, 28], { generator: new Generator(2) }); // [B, 1, 28, 28]
const y = randint(0, 10, [128], { generator: new Generator(3) });
let last = 0;
const step = (): void => {
  opt.zeroGrad();
  const loss = crossEntropy(vit.forward(x), y);
  loss.backward();
  opt.step();
  last = loss.item();
  freeGraph(loss);
};
for (let i = 0; i < 3; i++) step();
const times: number[] = [], cpu: number[] = [];
for (let i = 0; i < steps; i++) {
  const t0 = performance.now(), c0 = process.cpuUsage();
  step();
  const c = process.cpuUsage(c0);
  times.push(performance.now() - t0);
  cpu.push((c.user + c.system) / 1e3);
}
times.sort((a, b) => a - b);
cpu.sort((a, b) => a - b);
console.log(`backend ${getBackend().name}: median ${times[times.length >> 1]!.toFixed(1)} ms/step ` +
  `(min ${times[0]!.toFixed(1)}, max ${times[times.length - 1]!.toFixed(1)}); CPU median ${cpu[cpu.length >> 1]!.toFixed(1)} ms/step ` +
  `(min ${cpu[0]!.toFixed(1)}); last loss ${last}`);
