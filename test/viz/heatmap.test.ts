import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ValueError } from "../../src/tensor/errors.js";
import { attentionReportHtml, colorAt, escapeXml, heatmapSvg } from "../../src/viz/heatmap.js";

const cellFills = (svg: string): string[] => [...svg.matchAll(/<rect [^>]*fill="(#[0-9a-f]{6})"/g)].map((m) => m[1]!);

/** Relative luminance (sRGB, linearized). */
function luminance(hex: string): number {
  const lin = (c: number): number => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const n = parseInt(hex.slice(1), 16);
  return 0.2126 * lin((n >> 16) & 255) + 0.7152 * lin((n >> 8) & 255) + 0.0722 * lin(n & 255);
}

function throwsValue(fn: () => unknown, op: string, arg: string, expected: string, actual: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ValueError, String(e));
    assert.equal(e.op, op);
    assert.equal(e.arg, arg);
    assert.ok(e.expected.includes(expected), e.expected);
    assert.ok(e.actual.includes(actual), e.actual);
    return true;
  });
}

describe("heatmapSvg", () => {
  test("one rect per cell, in row-major order, with a tooltip each", () => {
    const w = Float32Array.from({ length: 12 }, (_, i) => i / 11);
    const svg = heatmapSvg(w, 3, 4, { rowLabels: ["a", "b", "c"], colLabels: ["w", "x", "y", "z"], title: "head 0" });
    assert.equal((svg.match(/<rect\b/g) ?? []).length, 12);
    assert.equal((svg.match(/<title>/g) ?? []).length, 12);
    assert.match(svg, /<title>a → w: 0<\/title>/);
    assert.match(svg, /<title>b → y: 0\.5455<\/title>/);
    assert.match(svg, /<title>c → z: 1<\/title>/);
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.ok(svg.endsWith("</svg>"));
    assert.match(svg, />head 0<\/text>/);
    assert.match(svg, /rotate\(-45 /);
    const fills = cellFills(svg);
    assert.equal(fills[0], colorAt(0));
    assert.equal(fills[11], colorAt(1));
  });

  test("rects count rows * cols for several sizes", () => {
    for (const [r, c] of [[1, 1], [1, 7], [5, 1], [16, 16], [40, 3]] as const) {
      const svg = heatmapSvg(new Array<number>(r * c).fill(0.5), r, c);
      assert.equal((svg.match(/<rect\b/g) ?? []).length, r * c, `${r}x${c}`);
    }
  });

  test("labels and title are XML-escaped", () => {
    const nasty = `<&">'`;
    const svg = heatmapSvg([1, 2], 1, 2, { rowLabels: [nasty], colLabels: ["</text><script>x</script>", "a&b"], title: `t<${nasty}>` });
    assert.ok(!svg.includes("<script"));
    assert.ok(!svg.includes(nasty));
    assert.match(svg, />&lt;&amp;&quot;&gt;&#39;<\/text>/);
    assert.match(svg, /&lt;\/text&gt;&lt;script&gt;x&lt;\/script&gt;/);
    assert.match(svg, /<title>&lt;&amp;&quot;&gt;&#39; → a&amp;b: 2<\/title>/);
    assert.match(svg, /aria-label="t&lt;&lt;&amp;&quot;&gt;&#39;&gt;"/);
    // Every "&" starts an entity; no raw "<" inside text.
    assert.ok(!/&(?!amp;|lt;|gt;|quot;|#39;)/.test(svg));
    assert.equal(escapeXml("a\u0001b"), "a\ufffdb");
  });

  test("colors are monotonic in value (viridis gets lighter, blues darker)", () => {
    const n = 64;
    const w = Array.from({ length: n }, (_, i) => i);
    for (const [scale, sign] of [["viridis", 1], ["blues", -1]] as const) {
      const lum = cellFills(heatmapSvg(w, 1, n, { colorScale: scale })).map(luminance);
      assert.equal(lum.length, n);
      for (let i = 1; i < n; i++) assert.ok(sign * (lum[i]! - lum[i - 1]!) > 0, `${scale} at ${i}: ${lum[i - 1]} -> ${lum[i]}`);
    }
  });

  test("normalizes by the max, or by vmax when given; clamps; NaN is gray", () => {
    const a = cellFills(heatmapSvg([0.1, 0.2], 1, 2));
    assert.deepEqual(a, [colorAt(0.5), colorAt(1)]);
    const b = cellFills(heatmapSvg([0.1, 0.2, 2, -1, NaN], 1, 5, { vmax: 1 }));
    assert.deepEqual(b, [colorAt(0.1), colorAt(0.2), colorAt(1), colorAt(0), "#d9d9d9"]);
    assert.deepEqual(cellFills(heatmapSvg([0, 0], 1, 2)), [colorAt(0), colorAt(0)]);
  });

  test("rdbu diverges around 0: -max|v| bottom, 0 white, max|v| top; infinite values gray", () => {
    const fills = cellFills(heatmapSvg([-2, 0, 1, 2, -Infinity, NaN], 1, 6, { colorScale: "rdbu" }));
    assert.deepEqual(fills, [colorAt(0, "rdbu"), colorAt(0.5, "rdbu"), colorAt(0.75, "rdbu"), colorAt(1, "rdbu"), "#d9d9d9", "#d9d9d9"]);
    assert.equal(colorAt(0.5, "rdbu"), "#f7f7f7");
    const svg = heatmapSvg([-1, 4], 1, 2, { colorScale: "rdbu", vmax: 2 });
    assert.deepEqual(cellFills(svg), [colorAt(0.25, "rdbu"), colorAt(1, "rdbu")]);
    assert.match(svg, />-2<\/text>/, "the color bar's bottom is -vmax");
    assert.match(svg, /<title>0 → 0: -1<\/title>/);
    assert.deepEqual(cellFills(heatmapSvg([0, 0], 1, 2, { colorScale: "rdbu" })), [colorAt(0.5, "rdbu"), colorAt(0.5, "rdbu")]);
  });

  test("wrong sizes and options are ValueErrors naming heatmapSvg and the argument", () => {
    throwsValue(() => heatmapSvg([1, 2, 3], 2, 2), "heatmapSvg", "weights", "2 x 2 = 4 values", "3 values");
    throwsValue(() => heatmapSvg([1, 2, 3, 4], 2, 2, { rowLabels: ["a"] }), "heatmapSvg", "rowLabels", "2 labels (one per row)", "1 labels");
    throwsValue(() => heatmapSvg([1, 2, 3, 4], 2, 2, { colLabels: ["a", "b", "c"] }), "heatmapSvg", "colLabels", "2 labels (one per column)", "3 labels");
    throwsValue(() => heatmapSvg([], 0, 2), "heatmapSvg", "rows", "a positive integer", "0");
    throwsValue(() => heatmapSvg([1, 2], 1, 2.5), "heatmapSvg", "cols", "a positive integer", "2.5");
    throwsValue(() => heatmapSvg([1, 2], 1, 2, { cellSize: -3 }), "heatmapSvg", "cellSize", "a positive number", "-3");
    throwsValue(() => heatmapSvg([1, 2], 1, 2, { vmax: 0 }), "heatmapSvg", "vmax", "a positive finite number", "0");
    throwsValue(() => heatmapSvg([1, 2], 1, 2, { colorScale: "jet" as "viridis" }), "heatmapSvg", "colorScale", "viridis", "jet");
  });
});

describe("attentionReportHtml", () => {
  const heads = [0, 1, 2].map((h) => ({
    label: `head ${h}`,
    weights: Float64Array.from({ length: 9 }, (_, i) => ((i * (h + 1)) % 5) / 4),
    rows: 3,
    cols: 3,
    rowLabels: ["the", "<cat>", "sat"],
    colLabels: ["the", "<cat>", "sat"],
  }));
  const html = attentionReportHtml([{ title: "layer 0 & 1", heads }, { title: "layer 2", heads: heads.slice(0, 1) }], { title: 'report "A"' });

  test("is a complete page with every head", () => {
    assert.ok(html.startsWith("<!DOCTYPE html>"));
    assert.match(html, /<meta charset="utf-8">/);
    assert.match(html, /<title>report &quot;A&quot;<\/title>/);
    assert.match(html, /<h2>layer 0 &amp; 1<\/h2>/);
    assert.equal((html.match(/<svg\b/g) ?? []).length, 4);
    assert.equal((html.match(/<rect\b/g) ?? []).length, 4 * 9);
    assert.ok(html.trimEnd().endsWith("</html>"));
  });

  test("is self-contained: no URLs, scripts, external fonts or images", () => {
    assert.ok(!/https?:\/\//i.test(html));
    assert.ok(!/<script/i.test(html));
    assert.ok(!/<link\b/i.test(html));
    assert.ok(!/<img\b/i.test(html));
    assert.ok(!/@import|url\(|@font-face/i.test(html));
    assert.ok(!/\b(src|href)=/i.test(html));
    assert.match(html, /<style>/);
  });

  test("bad heads name attentionReportHtml and the head's argument", () => {
    throwsValue(
      () => attentionReportHtml([{ title: "x", heads: [{ ...heads[0]!, weights: [1, 2] }] }]),
      "attentionReportHtml", "sections[0].heads[0].weights", "3 x 3 = 9 values", "2 values",
    );
    throwsValue(
      () => attentionReportHtml([{ title: "x", heads: [heads[0]!, { ...heads[1]!, colLabels: ["a"] }] }]),
      "attentionReportHtml", "sections[0].heads[1].colLabels", "3 labels", "1 labels",
    );
  });
});
