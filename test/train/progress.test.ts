import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import type { StepInfo } from "../../src/train/fit.js";
import { formatDuration, progressReporter } from "../../src/train/node/progress.js";

function sink(): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => chunks.join("") };
}

const info = (step: number, loss: number): StepInfo => ({ step, totalSteps: 6, startStep: 0, loss, lr: 3e-4, gradNorm: null, elapsedMs: step * 500 });

test("plain log lines when not a TTY", () => {
  const out = sink();
  const report = progressReporter({ stream: out.stream, every: 4 });
  for (let s = 1; s <= 6; s++) report(info(s, 2 / s));
  assert.equal(out.text(),
    "step 4/6 | loss 0.5000 | lr 3.00e-4 | 2.0 steps/s | eta 1s\n" +
    "step 6/6 | loss 0.3333 | lr 3.00e-4 | 2.0 steps/s | eta 0s\n");
});

test("a bar on a TTY, stopped after the last step", () => {
  const out = sink();
  const report = progressReporter({ stream: out.stream, tty: true, label: "train" });
  for (let s = 1; s <= 6; s++) report(info(s, 1.25));
  report.stop();
  assert.match(out.text(), /train .*6\/6 \| loss 1\.2500 \| 2\.0 steps\/s \| ETA 0s/);
});

test("formatDuration", () => {
  assert.deepEqual([formatDuration(42.4), formatDuration(187), formatDuration(3720), formatDuration(Infinity)], ["42s", "3m07s", "1h02m", "?"]);
});

test("pause ends the bar so other lines can be printed; the next step starts a new one", () => {
  const out = sink();
  const report = progressReporter({ stream: out.stream, tty: true, label: "train" });
  report(info(1, 1));
  report.pause();
  out.stream.write("step 1: validation\n");
  report(info(2, 1));
  report.stop();
  const text = out.text();
  assert.ok(text.indexOf("step 1: validation") < text.lastIndexOf("2/6"), text);
});
