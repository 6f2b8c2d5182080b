/**
 * The device-index cases of the WebGPU kernel page (webgpu-page.ts, which passes its helpers in):
 * the gather over indices nobody checked (Backend.indexSelect with a check) and the grouping built
 * on the device (Backend.groupIndices, WGSL group-indices.ts), against the js kernels; every array
 * at an odd offset between guard values.
 *
 * Gather: in-range indices with repeats read without an error; indices outside [0, n) (n, -1, a
 * million) give zero rows, as js's kernel, and the next read throws the check's ValueError, once
 * (`read` and `readMany`, whose arrays come back without the check words), and so does `finish`, also for a gather with no
 * output element; without a check they
 * give the zero rows and no error; checks over more ranges than the slots (a device with 2) are
 * read at once and their error comes out of the next read. Grouping: offsets and the used part of
 * order exactly js's, for repeats, one row picked by every index, a padding row first or last,
 * indices out of range, no indices, no rows, a 100,000-row table; and the gather backward over it
 * exactly the definition's sums.
 *
 * ```ts
 * const families = deviceIndexFamilies({ kernels: () => k, place, output, fetchPlaced, results: () => new Results() });
 * ```
 */
import { groupIndices, indexSelect } from "../../src/backend/js/gather.js";
import { WebGPUKernels } from "../../src/backend/webgpu/index.js";
import type { IndexCheck } from "../../src/backend/index-checks.js";
import type { CaseResult, Results } from "./webgpu-page.js";
import type { Kit } from "./webgpu-efficient-cases.js";
import { randn, rng } from "./webgpu-page-setup.js";

const EXACT = (): number => 1e-37;

/** One pass / fail case for an expectation that is not an array of numbers. */
function expect(res: Results, name: string, ok: boolean, detail: string): void {
  res.list.push({ name, ok, worst: ok ? 0 : 1e30, detail: ok ? "as expected" : detail }); // finite: the page's results go through JSON
}

/** What `p` threw: "none", or the error's class and message. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "none";
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

const outside = (c: IndexCheck, n: number): string => `ValueError: ${c.op}: ${c.arg} expected values in [0, ${n}), got an index outside it (found on the device)`;

async function gatherCases(kit: Kit): Promise<CaseResult[]> {
  const k = kit.kernels(), res = kit.results();
  const check: IndexCheck = { op: "embedding", arg: "indices" };
  // outer, n, inner, the indices, whether they are checked, what the next read throws
  const cases: [string, number, number, number, number[], boolean, string][] = [
    ["in range, repeats", 2, 7, 5, [3, 0, 6, 3, 3, 1], true, "none"],
    ["n, -1 and a million", 3, 6, 4, [5, 6, 0, -1, 1e6, 2], true, outside(check, 6)],
    ["in range, the same check again (its slot was cleared)", 2, 6, 3, [5, 0], true, "none"],
    ["out of range, unchecked (zeros, no error)", 1, 4, 3, [1, 4, -1], false, "none"],
  ];
  let seed = 900;
  for (const [what, outer, n, inner, ids, checked, throws] of cases) {
    const r = rng(seed++), m = ids.length;
    const x = randn(r, outer * n * inner), index = Float32Array.from(ids);
    const want = new Float32Array(outer * m * inner);
    indexSelect(want, x, index, outer, n, inner, m);
    const px = kit.place(x, 3), pidx = kit.place(index, 5), po = kit.output(outer * m * inner, 2);
    k.indexSelect(po.arr, px.arr, pidx.arr, outer, n, inner, m, checked ? check : undefined);
    const first = await outcome(k.read(px.arr));
    expect(res, `gather ${what}: the next read throws ${throws}`, first === throws, `got ${first}`);
    const got = await kit.fetchPlaced(po); // a second read: the slot was cleared
    res.compare(`gather ${what}: rows (zeros out of range), the store read again`, got.data, want, EXACT, got.guards);
  }
  // readMany: the error; with a check in range, the arrays asked for and nothing more
  const a = kit.place(Float32Array.of(1, 2, 3), 1), b = kit.place(Float32Array.of(4, 5), 2), po = kit.output(1, 1);
  const select: IndexCheck = { op: "indexSelect", arg: "indices" };
  k.indexSelect(po.arr, a.arr, kit.place(Float32Array.of(3), 0).arr, 1, 3, 1, 1, select);
  const many = await outcome(k.readMany([a.arr, b.arr]));
  expect(res, "readMany reports a flagged check", many === outside(select, 3), `got ${many}`);
  k.indexSelect(po.arr, a.arr, kit.place(Float32Array.of(2), 0).arr, 1, 3, 1, 1, select);
  const back = await k.readMany([a.arr, b.arr, po.arr]);
  expect(res, "readMany with a check in range: the three arrays", back.length === 3 && back.map((v) => v.join()).join(" ") === "1,2,3 4,5 3",
    `got ${back.map((v) => `[${v.join()}]`).join(", ")}`);
  // finish(): the wait for the device reports a flagged check too, once (its slot cleared), and nothing when none is flagged
  k.indexSelect(po.arr, a.arr, kit.place(Float32Array.of(-1), 0).arr, 1, 3, 1, 1, select);
  const done = await outcome(k.finish());
  expect(res, "finish() reports a flagged check", done === outside(select, 3), `got ${done}`);
  const readAfter = await outcome(k.read(a.arr));
  expect(res, "finish() cleared the slot: the next read throws none", readAfter === "none", `got ${readAfter}`);
  k.indexSelect(po.arr, a.arr, kit.place(Float32Array.of(1), 0).arr, 1, 3, 1, 1, select);
  const clean = await outcome(k.finish());
  expect(res, "finish() with a check in range throws none", clean === "none", `got ${clean}`);
  // no output element (inner 0, outer 0): the indices are checked all the same, by a kernel of the check alone
  k.indexSelect(po.arr, a.arr, kit.place(Float32Array.of(1, 9), 0).arr, 1, 4, 0, 2, check);
  const inner0 = await outcome(k.read(a.arr));
  expect(res, "gather with inner 0: an index out of range reported at the next read", inner0 === outside(check, 4), `got ${inner0}`);
  k.indexSelect(po.arr, a.arr, kit.place(Float32Array.of(-1), 0).arr, 0, 3, 1, 1, select);
  const outer0 = await outcome(k.read(a.arr));
  expect(res, "gather with outer 0: an index out of range reported at the next read", outer0 === outside(select, 3), `got ${outer0}`);
  k.indexSelect(po.arr, a.arr, kit.place(Float32Array.of(0, 3), 0).arr, 1, 4, 0, 2, check);
  const inRange0 = await outcome(k.read(a.arr));
  expect(res, "gather with inner 0, indices in range: none", inRange0 === "none", `got ${inRange0}`);
  // more ranges than slots: the first two are read at once when the third comes, the error kept for the next read
  const small = await WebGPUKernels.create(undefined, { checkSlots: 2 });
  const xs = small.upload(Float32Array.of(1, 2, 3, 4, 5)), out = small.alloc(1);
  for (const [n, id] of [[3, 3], [4, 0], [5, 1], [5, 4]] as const) small.indexSelect(out, xs, small.upload(Float32Array.of(id)), 1, n, 1, 1, check);
  const kept = await outcome(small.read(xs));
  expect(res, "slots run out: the earlier checks' error at the next read", kept === outside(check, 3), `got ${kept}`);
  const after = await outcome(small.read(xs));
  expect(res, "slots run out: then no error", after === "none", `got ${after}`);
  small.gpu.device.destroy();
  return res.list;
}

/**
 * The gather backward by its definition, over the indices themselves (not the grouping): dx row r
 * is 0 plus, in order of k, each g row k whose index is r (float32 sums), skipping `skip` and
 * indices outside [0, n).
 */
export function gatherBackwardByIndex(index: Float32Array, g: Float32Array, outer: number, n: number, inner: number, skip?: number): Float32Array {
  const m = index.length, dx = new Float32Array(outer * n * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < m; k++) {
      const r = index[k]!;
      if (!(r >= 0 && r < n) || r === skip) continue;
      for (let j = 0; j < inner; j++) dx[(o * n + r) * inner + j]! += g[(o * m + k) * inner + j]!;
    }
  }
  return dx;
}

async function groupingCases(kit: Kit): Promise<CaseResult[]> {
  const k = kit.kernels(), res = kit.results();
  type Draw = (r: () => number, n: number, k: number) => number;
  const uniform: Draw = (r, n) => Math.floor(r() * n);
  // n, m, how the indices are drawn, the skipped row (-1: none), the backward's outer and inner (0: not run)
  const cases: [string, number, number, Draw, number, number, number][] = [
    ["repeats", 10, 1037, uniform, -1, 2, 3],
    ["one row picked by every index", 6, 500, () => 4, -1, 1, 2],
    ["a hot row (60%), padding row 0 (first) skipped", 40, 3000, (r, n) => (r() < 0.6 ? 7 : r() < 0.3 ? 0 : uniform(r, n, 0)), 0, 1, 4],
    ["padding row 11 (last) skipped", 12, 90, (r, n, i) => (i % 3 === 0 ? 11 : uniform(r, n, i)), 11, 2, 5],
    ["indices out of range: -1, n, a million", 9, 300, (r, n) => [-1, n, 1e6, uniform(r, n, 0)][Math.floor(r() * 4)]!, 3, 1, 3],
    ["no indices", 50, 0, uniform, -1, 1, 2],
    ["no rows", 0, 20, () => 0, -1, 0, 0],
    ["a 100,000-row table, most rows empty", 100_000, 300, uniform, -1, 0, 0],
  ];
  let seed = 950;
  for (const [what, n, m, draw, skip, outer, inner] of cases) {
    const r = rng(seed++);
    const index = Float32Array.from({ length: m }, (_, i) => draw(r, n, i));
    const order = new Float32Array(m), offsets = new Float32Array(n + 1);
    groupIndices(order, offsets, index, n, m, skip);
    const pidx = kit.place(index, 3), pord = kit.output(m, 2), poff = kit.output(n + 1, 5);
    k.groupIndices(pord.arr, poff.arr, pidx.arr, n, m, skip);
    const gotOff = await kit.fetchPlaced(poff), gotOrd = await kit.fetchPlaced(pord);
    const used = offsets[n]!;
    res.compare(`groupIndices ${what}: offsets`, gotOff.data, offsets, EXACT, gotOff.guards);
    res.compare(`groupIndices ${what}: order`, gotOrd.data.slice(0, used), order.slice(0, used), EXACT, gotOrd.guards);
    if (outer === 0) continue;
    const g = randn(r, outer * m * inner);
    const pg = kit.place(g, 1), pdx = kit.output(outer * n * inner, 4);
    k.indexSelectBackward(pdx.arr, pg.arr, pord.arr, poff.arr, outer, n, inner, m);
    const dx = await kit.fetchPlaced(pdx);
    res.compare(`indexSelectBackward over the device grouping, ${what}`, dx.data, gatherBackwardByIndex(index, g, outer, n, inner, skip), EXACT, dx.guards);
  }
  return res.list;
}

/** The families: "deviceIndices" (the checked gather and the device grouping). */
export function deviceIndexFamilies(kit: Kit): Record<string, () => Promise<CaseResult[]>> {
  return { deviceIndices: async () => [...(await gatherCases(kit)), ...(await groupingCases(kit))] };
}
