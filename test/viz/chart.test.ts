/** The line-chart helper of the experiments report: well-formed SVG (parsed by a real XML parser), markers, escaping, ticks. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DOMParser } from "@xmldom/xmldom";
import { ValueError } from "../../src/tensor/errors.js";
import { lineChartSvg, linearTicks, logTicks, tickLabel } from "../../src/viz/chart.js";

function parseSvg(svg: string) {
  const doc = new DOMParser({ onError: (level, msg) => { throw new Error(`${level}: ${msg}`); } }).parseFromString(svg, "image/svg+xml");
  assert.equal(doc.documentElement?.nodeName, "svg");
  return doc;
}

describe("lineChartSvg", () => {
  test("a line chart is one parsable SVG with one marker per finite point, error bars, a legend and escaped text", () => {
    const svg = lineChartSvg([
      { name: "LSTM <1 layer>", points: [{ x: 8, y: 0.9, lo: 0.8, hi: 1 }, { x: 64, y: NaN }, { x: 512, y: 0.1 }] },
      { name: "attention & co", points: [{ x: 8, y: 1 }, { x: 64, y: 1 }, { x: 512, y: 1 }], dashed: true },
    ], { title: "acc", xLabel: "D", yLabel: "accuracy", xLog: true, yMin: 0, yMax: 1 });
    const doc = parseSvg(svg);
    assert.equal(doc.getElementsByTagName("circle").length, 5);
    assert.ok(svg.includes("LSTM &lt;1 layer&gt;") && svg.includes("attention &amp; co"));
    assert.ok(svg.includes('stroke-dasharray="6 4"'));
    assert.throws(() => lineChartSvg([], { xLabel: "x", yLabel: "y" }), ValueError);
    assert.throws(() => lineChartSvg([{ name: "a", points: [{ x: 0, y: 1 }] }], { xLabel: "x", yLabel: "y", xLog: true }), ValueError);
  });

  test("ticks: round linear steps, powers of 10 or of 2 on log axes", () => {
    assert.deepEqual(linearTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(logTicks(1e-8, 0.1), [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1]);
    assert.deepEqual(logTicks(8, 64), [8, 16, 32, 64]);
    assert.deepEqual(logTicks(1e-34, 0.1), [1e-30, 1e-25, 1e-20, 1e-15, 1e-10, 1e-5]); // every 5th power of 34
    assert.deepEqual([tickLabel(8192), tickLabel(0.25), tickLabel(1e-5), tickLabel(20000)], ["8192", "0.25", "1e-5", "20k"]);
  });
});
