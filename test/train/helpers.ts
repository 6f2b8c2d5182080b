/** A tiny regression model with dropout and seeded batches, shared by the training tests. */
import { gelu } from "../../src/ops/elementwise.js";
import { mseLoss } from "../../src/ops/functional.js";
import { Dropout, Linear } from "../../src/nn/layers.js";
import { Module } from "../../src/nn/module.js";
import { AdamW } from "../../src/optim/adam.js";
import { LRScheduler, warmupCosine } from "../../src/optim/schedule.js";
import { Generator, manualSeed } from "../../src/tensor/rng.js";
import { randn, type Tensor } from "../../src/tensor/tensor.js";

export class TinyNet extends Module {
  fc1: Linear;
  drop: Dropout;
  fc2: Linear;
  constructor(dropGen: Generator) {
    super();
    this.fc1 = this.registerModule("fc1", new Linear(4, 8));
    this.drop = this.registerModule("drop", new Dropout(0.2, dropGen));
    this.fc2 = this.registerModule("fc2", new Linear(8, 1));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.drop.forward(gelu(this.fc1.forward(x))));
  }
}

export interface Batch {
  x: Tensor;
  y: Tensor;
}

/** A batch drawn from the default generator (so the data stream is part of the RNG state). */
export function drawBatch(): Batch {
  const x = randn([6, 4]);
  const y = randn([6, 1]);
  return { x, y };
}

/** Model (initialized from `initSeed`), AdamW, warm-up + cosine scheduler, dropout generator. */
export function setup(initSeed: number, totalSteps: number) {
  manualSeed(initSeed);
  const dropGen = new Generator(initSeed + 100);
  const model = new TinyNet(dropGen);
  const optimizer = new AdamW(model.parameters(), { lr: 0.05, weightDecay: 0.01 });
  const scheduler = new LRScheduler(optimizer, warmupCosine({ warmupSteps: 3, totalSteps, minLr: 0.1 }));
  const trainStep = (b: Batch): Tensor => mseLoss(model.forward(b.x), b.y);
  return { model, optimizer, scheduler, dropGen, trainStep };
}
