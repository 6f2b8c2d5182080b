/**
 * Training progress for the terminal (Node): a live bar (cli-progress) with steps/s, loss and ETA
 * when the stream is a TTY; otherwise plain log lines every `every` steps (and at the last), so
 * CI logs and redirected output stay readable:
 *
 *     step 200/1000 | loss 1.8342 | lr 3.00e-4 | 41.7 steps/s | eta 19s
 *
 * ```ts
 * const progress = progressReporter({ every: 100 });
 * await fit({ ..., onStep: progress });   // the bar stops by itself after the last step
 * ```
 */
import cliProgress from "cli-progress";
import { ValueError } from "../../tensor/errors.js";
import type { StepCallback, StepInfo } from "../fit.js";

export interface ProgressOptions {
  /** Where to write (default process.stdout). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Force the bar (true) or log lines (false); default: whether the stream is a TTY. */
  tty?: boolean;
  /** Log-line mode: a line every `every` steps (default: about 20 lines per run). */
  every?: number;
  /** Text before the bar / at the start of each line. */
  label?: string;
}

/** A step callback for fit, plus stop() to end the bar early (e.g. when training throws). */
export type ProgressReporter = StepCallback & {
  /** Ends the bar for good. */
  stop(): void;
  /** Ends the current bar so other lines can be printed; the next step starts a new one. */
  pause(): void;
};

/** Seconds as "42s", "3m07s", "1h02m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Steps per second since the run (or its resumption) started, and the seconds left at that rate. */
export function progressRates(info: StepInfo): { stepsPerSec: number; etaSec: number } {
  const done = info.step - info.startStep;
  const stepsPerSec = info.elapsedMs > 0 ? (done * 1000) / info.elapsedMs : 0;
  return { stepsPerSec, etaSec: stepsPerSec > 0 ? (info.totalSteps - info.step) / stepsPerSec : Infinity };
}

const fmtLoss = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : String(x));

/** The plain log line of one step. */
export function progressLine(info: StepInfo, label = ""): string {
  const { stepsPerSec, etaSec } = progressRates(info);
  return `${label ? `${label} ` : ""}step ${info.step}/${info.totalSteps} | loss ${fmtLoss(info.loss)} | lr ${info.lr.toExponential(2)} | ` +
    `${stepsPerSec.toFixed(1)} steps/s | eta ${formatDuration(etaSec)}`;
}

/** Makes a progress callback for fit's `onStep`. */
export function progressReporter(opts: ProgressOptions = {}): ProgressReporter {
  const stream = opts.stream ?? process.stdout;
  const tty = opts.tty ?? stream.isTTY === true;
  const every = opts.every;
  if (every !== undefined && !(Number.isInteger(every) && every >= 1)) throw new ValueError("progressReporter", "every", "an integer >= 1", String(every));
  const label = opts.label ?? "";
  let bar: cliProgress.SingleBar | null = null;
  let stopped = false;

  const stop = (): void => {
    if (bar && !stopped) bar.stop();
    stopped = true;
  };
  const pause = (): void => {
    if (bar && !stopped) bar.stop();
    bar = null;
  };

  const onStep = (info: StepInfo): void => {
    if (stopped) return;
    const { stepsPerSec, etaSec } = progressRates(info);
    if (tty) {
      const payload = { loss: fmtLoss(info.loss), rate: stepsPerSec.toFixed(1), etaText: formatDuration(etaSec), label };
      if (!bar) {
        bar = new cliProgress.SingleBar({
          stream,
          format: `${label ? "{label} " : ""}{bar} {value}/{total} | loss {loss} | {rate} steps/s | ETA {etaText}`,
          hideCursor: true,
          noTTYOutput: stream.isTTY !== true, // a bar was asked for on a stream that is not a terminal
        }, cliProgress.Presets.shades_classic);
        bar.start(info.totalSteps, info.step, payload);
      } else bar.update(info.step, payload);
    } else {
      const n = every ?? Math.max(1, Math.round(info.totalSteps / 20));
      if (info.step % n === 0 || info.step === info.totalSteps) stream.write(`${progressLine(info, label)}\n`);
    }
    if (info.step >= info.totalSteps) stop();
  };
  return Object.assign(onStep, { stop, pause });
}
