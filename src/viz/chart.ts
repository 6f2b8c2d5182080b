/**
 * Line charts as standalone SVG: one or more series of (x, y) points with optional error bars
 * (lo, hi), linear or log axes with round ticks, a legend, a title. The one plot helper of the
 * experiments report (docs/experiments.md): every figure there is a call of `lineChartSvg`.
 * Browser-safe: data in, a string out; no fonts, scripts or links.
 *
 * ```ts
 * const svg = lineChartSvg([
 *   { name: "LSTM", points: [{ x: 8, y: 1 }, { x: 64, y: 0.6, lo: 0.5, hi: 0.7 }] },
 *   { name: "transformer", points: [{ x: 8, y: 1 }, { x: 64, y: 1 }], dashed: true },
 * ], { title: "accuracy against distance", xLabel: "distance D", yLabel: "accuracy", xLog: true, yMin: 0, yMax: 1 });
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import { escapeXml } from "./page.js";

export interface ChartPoint {
  x: number;
  y: number;
  /** Lower and upper ends of an error bar (e.g. mean ± one standard deviation, or min and max). */
  lo?: number;
  hi?: number;
}

export interface ChartSeries {
  name: string;
  points: readonly ChartPoint[];
  /** Draw the line dashed (e.g. "at initialization" against a solid "trained"). */
  dashed?: boolean;
  /** A CSS color; by default the next of a colorblind-safe palette (Okabe–Ito). */
  color?: string;
}

export interface LineChartOptions {
  title?: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  /** Axis ranges; by default the data's range (with error bars), padded on a linear y axis. */
  xMin?: number;
  xMax?: number;
  yMin?: number;
  yMax?: number;
  /** Tick positions on x (default: round numbers; on a log axis, powers of 10 or of 2). */
  xTicks?: readonly number[];
  width?: number;
  height?: number;
}

/** Okabe and Ito's palette, distinguishable with the common color-vision deficiencies. */
const PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442"];

const r1 = (v: number): number => Math.round(v * 10) / 10;

/** A short tick label: integers as they are (round thousands from 10,000 as "20k"), else 3 significant digits. */
export function tickLabel(v: number): string {
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e6) return a >= 1e4 && v % 1000 === 0 ? `${v / 1000}k` : String(v);
  if (a >= 1e6 && Number.isInteger(v / 1e5)) return `${v / 1e6}M`;
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(0).replace("e+", "e");
  return String(Number(v.toPrecision(3)));
}

/** Round ticks covering [lo, hi]: steps of 1, 2 or 5 times a power of 10. */
export function linearTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** base^e; powers of 10 parsed from "1e<e>", the double nearest them (10 ** -5 is 0.000009999999999999999). */
const power = (base: number, e: number): number => (base === 10 ? Number(`1e${e}`) : base ** e);

/**
 * Ticks of a log axis over [lo, hi] (lo > 0): powers of 10 (every k-th exponent when there are more
 * than 8), or powers of 2 when fewer than 3 powers of 10 fall inside.
 */
export function logTicks(lo: number, hi: number): number[] {
  const exponents = (base: number): number[] => {
    const out: number[] = [];
    for (let e = Math.ceil(Math.log(lo) / Math.log(base) - 1e-9); power(base, e) <= hi * (1 + 1e-9); e++) out.push(e);
    return out;
  };
  const tens = exponents(10);
  if (tens.length >= 3) {
    const k = Math.ceil(tens.length / 8);
    return tens.filter((e) => e % k === 0).map((e) => power(10, e));
  }
  const twos = exponents(2);
  const k = Math.ceil(twos.length / 8);
  return twos.filter((_, i) => i % k === 0).map((e) => power(2, e));
}

function checkFinite(op: string, arg: string, v: unknown, positive: boolean): void {
  if (typeof v !== "number" || !Number.isFinite(v) || (positive && v <= 0)) {
    throw new ValueError(op, arg, positive ? "a finite number > 0 (log axis)" : "a finite number", String(v));
  }
}

/**
 * series -> an SVG line chart (a string starting with `<svg xmlns=...`). Points with a
 * non-finite y are left out (a gap in the line), as are y <= 0 on a log y axis.
 */
export function lineChartSvg(series: readonly ChartSeries[], opts: LineChartOptions): string {
  const op = "lineChartSvg";
  const given: unknown = series;
  if (!Array.isArray(given) || given.length === 0) throw new ValueError(op, "series", "at least one series", Array.isArray(given) ? "none" : typeof given);
  const W = opts.width ?? 640, H = opts.height ?? 400;
  const keep = (p: ChartPoint): boolean => Number.isFinite(p.y) && (!opts.yLog || p.y > 0);
  const all = series.flatMap((s, i) => {
    if (typeof s.name !== "string") throw new ValueError(op, `series[${i}].name`, "a string", typeof s.name);
    s.points.forEach((p, j) => checkFinite(op, `series[${i}].points[${j}].x`, p.x, opts.xLog ?? false));
    return s.points.filter(keep);
  });
  const xs = all.map((p) => p.x);
  const ys = all.flatMap((p) => [p.y, p.lo ?? p.y, p.hi ?? p.y]).filter((v) => Number.isFinite(v) && (!opts.yLog || v > 0));
  let x0 = opts.xMin ?? Math.min(...xs), x1 = opts.xMax ?? Math.max(...xs);
  let y0 = opts.yMin ?? Math.min(...ys), y1 = opts.yMax ?? Math.max(...ys);
  if (!Number.isFinite(x0) || !Number.isFinite(x1)) [x0, x1] = opts.xLog ? [1, 10] : [0, 1];
  if (!Number.isFinite(y0) || !Number.isFinite(y1)) [y0, y1] = opts.yLog ? [1, 10] : [0, 1];
  if (opts.xLog) checkFinite(op, "xMin", x0, true);
  if (opts.yLog) checkFinite(op, "yMin", y0, true);
  if (x1 <= x0) [x0, x1] = opts.xLog ? [x0 / 2, x1 * 2] : [x0 - 1, x1 + 1];
  if (y1 <= y0) [y0, y1] = opts.yLog ? [y0 / 2, y1 * 2] : [y0 - 1, y1 + 1];
  if (opts.yLog && opts.yMin === undefined && opts.yMax === undefined) [y0, y1] = [power(10, Math.floor(Math.log10(y0))), power(10, Math.ceil(Math.log10(y1)))];
  else if (!opts.yLog && opts.yMin === undefined && opts.yMax === undefined) {
    const t = linearTicks(y0, y1);
    const step = t.length > 1 ? t[1]! - t[0]! : 1;
    [y0, y1] = [Math.floor(y0 / step) * step, Math.ceil(y1 / step) * step];
  }

  const left = 72, right = 16, top = opts.title ? 36 : 14, pw = W - left - right;
  // legend: as many columns (at most 3) as the longest name allows, under the x label
  const longest = Math.max(...series.map((s) => [...s.name].length * 12 * 0.55 + 40));
  const cols = Math.max(1, Math.min(3, Math.floor(pw / longest)));
  const bottom = 52 + 18 * Math.ceil(series.length / cols);
  const ph = H - top - bottom;
  const fx = (v: number): number => opts.xLog ? (Math.log(v) - Math.log(x0)) / (Math.log(x1) - Math.log(x0)) : (v - x0) / (x1 - x0);
  const fy = (v: number): number => opts.yLog ? (Math.log(v) - Math.log(y0)) / (Math.log(y1) - Math.log(y0)) : (v - y0) / (y1 - y0);
  const px = (v: number): number => r1(left + pw * fx(v));
  const py = (v: number): number => r1(top + ph * (1 - Math.min(1.02, Math.max(-0.02, fy(v)))));

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  if (opts.title) parts.push(`<text x="${r1(W / 2)}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(opts.title)}</text>`);
  const xt = (opts.xTicks ?? (opts.xLog ? logTicks(x0, x1) : linearTicks(x0, x1))).filter((v) => v >= x0 * (1 - 1e-9) && v <= x1 * (1 + 1e-9));
  const yt = opts.yLog ? logTicks(y0, y1) : linearTicks(y0, y1);
  for (const v of yt) {
    const y = py(v);
    parts.push(`<line x1="${left}" y1="${y}" x2="${left + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 6}" y="${r1(y + 4)}" text-anchor="end">${escapeXml(tickLabel(v))}</text>`);
  }
  for (const v of xt) {
    const x = px(v);
    parts.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${top + ph}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${x}" y="${top + ph + 16}" text-anchor="middle">${escapeXml(tickLabel(v))}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#333333"/>`);
  parts.push(`<text x="${r1(left + pw / 2)}" y="${top + ph + 34}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${r1(top + ph / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`);

  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = s.points.filter(keep).slice().sort((a, b) => a.x - b.x);
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    parts.push(`<g stroke="${escapeXml(color)}" fill="${escapeXml(color)}"><title>${escapeXml(s.name)}</title>`);
    for (const p of pts) {
      const lo = p.lo, hi = p.hi;
      if (lo !== undefined && hi !== undefined && Number.isFinite(lo) && Number.isFinite(hi) && (!opts.yLog || lo > 0)) {
        const x = px(p.x);
        parts.push(`<path d="M${x} ${py(lo)}V${py(hi)}M${r1(x - 3)} ${py(lo)}h6M${r1(x - 3)} ${py(hi)}h6" fill="none"/>`);
      }
    }
    if (pts.length > 1) parts.push(`<path d="${pts.map((p, j) => `${j ? "L" : "M"}${px(p.x)} ${py(p.y)}`).join("")}" fill="none" stroke-width="2"${dash}/>`);
    for (const p of pts) parts.push(`<circle cx="${px(p.x)}" cy="${py(p.y)}" r="3"/>`);
    parts.push(`</g>`);
  });

  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const x = left + (i % cols) * (pw / cols), y = top + ph + 52 + 18 * Math.floor(i / cols);
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    parts.push(`<line x1="${r1(x)}" y1="${y - 4}" x2="${r1(x + 24)}" y2="${y - 4}" stroke="${escapeXml(color)}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${r1(x + 30)}" y="${y}">${escapeXml(s.name)}</text>`);
  });
  parts.push(`</svg>`);
  return parts.join("\n");
}
