/**
 * The trade-off plot of the long-range experiment: accuracy against time per training step, one
 * point per attention variant (the mean over seeds, a bar from the lowest to the highest seed), the
 * point's area growing with peak memory, and a dashed line at chance.
 *
 * ```ts
 * writeFileSync("docs/long-range-tradeoff.svg", tradeoffSvg(points, "title", 1 / 8));
 * ```
 */

export interface TradeoffPoint {
  label: string;
  /** Mean accuracy over seeds, and its range. */
  acc: number;
  accMin: number;
  accMax: number;
  msPerStep: number;
  peakMB: number;
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** An SVG scatter of accuracy (0..1) against ms per step. */
export function tradeoffSvg(points: readonly TradeoffPoint[], title: string, chance: number): string {
  const W = 760, H = 460, left = 64, right = 190, top = 40, bottom = 56;
  const pw = W - left - right, ph = H - top - bottom;
  const xMax = Math.max(1, ...points.map((p) => p.msPerStep)) * 1.1;
  const step = xMax > 400 ? 100 : xMax > 200 ? 50 : 25;
  const round = (v: number): number => Math.round(v * 10) / 10;
  const x = (ms: number): number => round(left + (ms / xMax) * pw);
  const y = (acc: number): number => round(top + (1 - acc) * ph);
  const mbMax = Math.max(1, ...points.map((p) => p.peakMB));
  const radius = (mb: number): number => 4 + 8 * Math.sqrt(Math.max(0, mb) / mbMax);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  // axes and grid
  for (let a = 0; a <= 1.0001; a += 0.2) {
    out.push(`<line x1="${left}" y1="${y(a)}" x2="${left + pw}" y2="${y(a)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${left - 8}" y="${y(a) + 4}" text-anchor="end">${a.toFixed(1)}</text>`);
  }
  for (let ms = 0; ms <= xMax; ms += step) {
    out.push(`<line x1="${x(ms)}" y1="${top}" x2="${x(ms)}" y2="${top + ph}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${x(ms)}" y="${top + ph + 18}" text-anchor="middle">${ms}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${left + pw / 2}" y="${H - 14}" text-anchor="middle">ms per training step (median)</text>`);
  out.push(`<text x="18" y="${top + ph / 2}" text-anchor="middle" transform="rotate(-90 18 ${top + ph / 2})">accuracy (mean over seeds; bar: lowest to highest)</text>`);
  out.push(`<line x1="${left}" y1="${y(chance)}" x2="${left + pw}" y2="${y(chance)}" stroke="#999" stroke-dasharray="5,4"/>`);
  out.push(`<text x="${left + pw - 4}" y="${y(chance) - 5}" text-anchor="end" fill="#777">chance ${chance.toFixed(3)}</text>`);
  // points, labelled in a legend on the right (labels at the points would collide)
  const colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  points.forEach((p, i) => {
    const c = colors[i % colors.length]!;
    const px = x(p.msPerStep), py = y(p.acc);
    out.push(`<line x1="${px}" y1="${y(p.accMin)}" x2="${px}" y2="${y(p.accMax)}" stroke="${c}" stroke-width="2"/>`);
    out.push(`<circle cx="${px}" cy="${py}" r="${radius(p.peakMB).toFixed(1)}" fill="${c}" fill-opacity="0.55" stroke="${c}"/>`);
    out.push(`<text x="${px + 6}" y="${py - 6}" font-size="11" fill="${c}">${i + 1}</text>`);
    const ly = top + 8 + i * 20;
    out.push(`<circle cx="${left + pw + 16}" cy="${ly}" r="5" fill="${c}" fill-opacity="0.55" stroke="${c}"/>`);
    out.push(`<text x="${left + pw + 26}" y="${ly + 4}" font-size="11">${i + 1} ${esc(p.label)}</text>`);
  });
  const ny = top + 8 + points.length * 20 + 10;
  out.push(`<text x="${left + pw + 10}" y="${ny}" font-size="11" fill="#555">area: peak memory</text>`);
  out.push(`<text x="${left + pw + 10}" y="${ny + 15}" font-size="11" fill="#555">(largest ${mbMax.toFixed(0)} MB)</text>`);
  out.push("</svg>");
  return out.join("\n");
}
