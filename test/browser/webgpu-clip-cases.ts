/**
 * The gradient clipping's kernels on the WebGPU kernel page (webgpu-page.ts passes its helpers in):
 * the sum of squares of many arrays into one element (SumOfSquares, WGSL sum-squares.ts), many
 * arrays scaled by one device scalar (ScaleArrays, scale-arrays.ts), and `fill`; every array at an
 * offset between guard values.
 *
 * Sum of squares: one array of n from 1 to past 256 threads a few times, accumulated and not,
 * against float64 within fp32's bound for n terms; eleven arrays of mixed sizes (one empty) in one
 * call give exactly the bits of one call per array, accumulated in order, both with the device's
 * bindings and with a context that binds 3 storage arrays (2 arrays a dispatch: 6 dispatches and
 * the combining one); nine arrays whose sum shows the order of the adds. The clipping's norm and
 * scale in one kernel (clipNorm): the bits of the kernels it replaces, for eleven, one and no
 * arrays, with a NaN or an infinity among them, the scale below 1, at 1 and NaN, and the float64
 * values; the partial sums' dispatches and one more. Scaling: ten arrays, one empty and one listed twice (scaled twice), the
 * scalar a view of the same buffer as one of them, each element exactly x * s in float32; with 3
 * bindings, 2 arrays a dispatch (arrays past a workgroup's chunk of 16384 elements too). Fill: values, NaN and infinities, past 256 threads. Adam over
 * parameters whose moments are views of one flat array each, with and without a gradient scale,
 * with the device's bindings, 6 and 5: the bits of one call per parameter, and the dispatches.
 *
 * ```ts
 * const families = clipFamilies({ kernels: () => k, place, output, fetchPlaced, results: () => new Results() });
 * ```
 */
import type { GpuArray, KernelContext } from "../../src/backend/webgpu/context.js";
import type { WebGPUKernels } from "../../src/backend/webgpu/index.js";
import { adamSteps, sgdSteps } from "../../src/backend/webgpu/optimizer.js";
import { scaleArrays } from "../../src/backend/webgpu/scale-arrays.js";
import { clipNorm, sumOfSquares } from "../../src/backend/webgpu/sum-squares.js";
import type { Kit } from "./webgpu-efficient-cases.js";
import type { CaseResult, Results } from "./webgpu-page.js";
import { randn, rng } from "./webgpu-page-setup.js";

const U = 2 ** -24;
const EXACT = (): number => 1e-37;

function expect(res: Results, name: string, ok: boolean, detail: string): void {
  res.list.push({ name, ok, worst: ok ? 0 : 1e30, detail: ok ? "as expected" : detail });
}

/** k's context with `storage` storage bindings a kernel, counting its dispatches. */
function limited(k: WebGPUKernels, storage: number): { ctx: KernelContext; dispatches: () => number } {
  let n = 0;
  const ctx: KernelContext = {
    pipeline: (key, source) => k.pipeline(key, source),
    dispatch: (...args) => { n++; k.dispatch(...args); },
    scratch: (m) => k.scratch(m), release: (arr) => k.release(arr), indexCheck: (c, m) => k.indexCheck(c, m),
    workgroupFloats: k.workgroupFloats, maxWorkgroupsPerDimension: k.maxWorkgroupsPerDimension, maxStorageBuffers: storage, maxBindingBytes: k.maxBindingBytes,
  };
  return { ctx, dispatches: () => n };
}

async function sumOfSquaresCases(kit: Kit): Promise<CaseResult[]> {
  const k = kit.kernels(), res = kit.results();
  // one array: (n + 10) u sum x^2 (walks of n / 256, a tree of 8, the accumulated 1.5)
  let pad = 0;
  for (const n of [1, 255, 256, 257, 1000, 100_003]) {
    const x = randn(rng(900 + n), n, 2), acc = Float32Array.of(1.5);
    let want = 0;
    for (const v of x) want += v * v;
    for (const accumulate of [false, true]) {
      const px = kit.place(x, 5), pa = kit.place(acc, pad++ % 3);
      k.sumOfSquares(pa.arr, [px.arr], [n], accumulate);
      const got = await kit.fetchPlaced(pa);
      const w = accumulate ? want + 1.5 : want;
      res.compare(`one array, n=${n}${accumulate ? ", accumulated" : ""}`, got.data, [w], () => (n + 10) * U * w, got.guards);
    }
  }
  // eleven arrays in one call: the bits of one call per array
  const sizes = [3, 0, 700, 1, 256, 257, 5000, 64, 129, 2, 40];
  const xs = sizes.map((n, j) => kit.place(randn(rng(1300 + j), n, 1.5), 2 + j));
  const one = kit.place(Float32Array.of(0.25), 1);
  for (const x of xs) k.sumOfSquares(one.arr, [x.arr], [x.n], true);
  const want = (await kit.fetchPlaced(one)).data;
  let w64 = 0.25;
  for (const x of xs) for (const v of (await kit.fetchPlaced(x)).data) w64 += v * v;
  const all = kit.place(Float32Array.of(0.25), 4);
  k.sumOfSquares(all.arr, xs.map((x) => x.arr), sizes, true);
  const got = await kit.fetchPlaced(all);
  res.compare("eleven arrays at once: one call per array's bits", got.data, want, EXACT, got.guards);
  res.compare("eleven arrays at once: against float64", got.data, [w64], () => 5020 * U * w64, got.guards);
  const lim = limited(k, 3), few = kit.place(Float32Array.of(0.25), 0);
  sumOfSquares(lim.ctx, few.arr, xs.map((x) => x.arr), sizes, true);
  const gotFew = await kit.fetchPlaced(few);
  res.compare("eleven arrays, 2 a dispatch: the same bits", gotFew.data, want, EXACT, gotFew.guards);
  expect(res, "eleven arrays, 2 a dispatch: 7 dispatches", lim.dispatches() === 7, `${lim.dispatches()} dispatches`);
  // arrays longer than a workgroup's chunk (16384 elements): summed by chunks, one call per
  // array's bits, 2 arrays a dispatch the same; an array of 3 chunks + 1 against float64
  const big = [40000, 0, 16384, 16385, 5].map((n, j) => kit.place(randn(rng(1400 + j), n, 1), 1 + j));
  const bigSizes = big.map((x) => x.n);
  const oneBig = kit.place(Float32Array.of(0.5), 2);
  for (const x of big) k.sumOfSquares(oneBig.arr, [x.arr], [x.n], true);
  const wantBig = (await kit.fetchPlaced(oneBig)).data;
  let big64 = 0.5;
  for (const x of big) for (const v of (await kit.fetchPlaced(x)).data) big64 += v * v;
  const allBig = kit.place(Float32Array.of(0.5), 3), limBig = limited(k, 3), fewBig = kit.place(Float32Array.of(0.5), 1);
  k.sumOfSquares(allBig.arr, big.map((x) => x.arr), bigSizes, true);
  sumOfSquares(limBig.ctx, fewBig.arr, big.map((x) => x.arr), bigSizes, true);
  const [gotBig, gotFewBig] = [await kit.fetchPlaced(allBig), await kit.fetchPlaced(fewBig)];
  res.compare("arrays past a workgroup's chunk at once: one call per array's bits", gotBig.data, wantBig, EXACT, gotBig.guards);
  res.compare("arrays past a workgroup's chunk, 2 a dispatch: the same bits", gotFewBig.data, wantBig, EXACT, gotFewBig.guards);
  res.compare("arrays past a workgroup's chunk: against float64", gotBig.data, [big64], () => (64 + 3 + 8 + 5) * U * big64, gotBig.guards);
  expect(res, "arrays past a workgroup's chunk, 2 a dispatch: 4 dispatches", limBig.dispatches() === 4, `${limBig.dispatches()} dispatches`);
  // the order of the partial sums shows: 0.25 + 1, then eight 2^-24 (each half an ulp of 1.25,
  // rounding to it, even) give 1.25; added the other way round, 0.25 + 2^-21 + 1 = 1.25 + 2^-21
  const order = [Float32Array.of(1), ...Array.from({ length: 8 }, () => Float32Array.of(2 ** -12))].map((h, j) => kit.place(h, j));
  const ordered = kit.place(Float32Array.of(0.25), 1);
  k.sumOfSquares(ordered.arr, order.map((x) => x.arr), order.map(() => 1), true);
  const gotOrder = await kit.fetchPlaced(ordered);
  res.compare("arrays' sums added in order: 1.25", gotOrder.data, [1.25], EXACT, gotOrder.guards);
  // no arrays: acc set to 0, or kept
  const none = kit.place(Float32Array.of(3), 2), kept = kit.place(Float32Array.of(3), 2);
  k.sumOfSquares(none.arr, [], [], false);
  k.sumOfSquares(kept.arr, [], [], true);
  const [gn, gk] = [await kit.fetchPlaced(none), await kit.fetchPlaced(kept)];
  res.compare("no arrays, not accumulated: 0", gn.data, [0], EXACT, gn.guards);
  res.compare("no arrays, accumulated: unchanged", gk.data, [3], EXACT, gk.guards);
  return res.list;
}

/**
 * clipNorm: the norm and scale of one kernel against the kernels it replaces (the sum of squares
 * from 0, sqrt, + 1e-6, maxNorm / that, minimum with 1), bit for bit, and against float64.
 */
async function clipNormCases(kit: Kit): Promise<CaseResult[]> {
  const k = kit.kernels(), res = kit.results();
  const scalar = (v: number, pad: number): GpuArray => kit.place(Float32Array.of(v), pad).arr;
  const sizes = [3, 0, 700, 1, 256, 257, 5000, 64, 129, 2, 40];
  const hosts = sizes.map((n, j) => randn(rng(1700 + j), n, 0.05));
  const withNan = hosts.map((h, j) => (j === 6 ? h.map((v, i) => (i === 4321 ? NaN : v)) : h));
  const withInf = hosts.map((h, j) => (j === 2 ? h.map((v, i) => (i === 9 ? -Infinity : v)) : h));
  const sets: [string, Float32Array[]][] = [["eleven arrays", hosts], ["one array", [hosts[6]!]], ["no arrays", []],
    ["a NaN in one array", withNan], ["-Infinity in one array", withInf]];
  for (const [what, set] of sets) {
    for (const maxNorm of [0.1, 1, 1e9]) {
      const xs = set.map((h, j) => kit.place(h, 1 + (j % 3)));
      const ns = set.map((h) => h.length);
      // the kernels it replaces
      const n0 = kit.place(Float32Array.of(7), 1), c0 = kit.place(Float32Array.of(7), 2);
      k.sumOfSquares(n0.arr, xs.map((x) => x.arr), ns, false);
      k.unary("sqrt", n0.arr, n0.arr, 1, 0);
      k.binary("add", c0.arr, n0.arr, scalar(1e-6, 0), [1], [1], [1]);
      k.binary("div", c0.arr, scalar(maxNorm, 1), c0.arr, [1], [1], [1]);
      k.binary("minimum", c0.arr, c0.arr, scalar(1, 2), [1], [1], [1]);
      const n1 = kit.place(Float32Array.of(7), 2), c1 = kit.place(Float32Array.of(7), 0);
      const lim = limited(k, 3);
      clipNorm(lim.ctx, n1.arr, c1.arr, xs.map((x) => x.arr), ns, maxNorm);
      const [wn, wc, gn, gc] = [await kit.fetchPlaced(n0), await kit.fetchPlaced(c0), await kit.fetchPlaced(n1), await kit.fetchPlaced(c1)];
      const name = `clipNorm, ${what}, maxNorm ${maxNorm}`;
      res.compare(`${name}: the norm, the separate kernels' bits`, gn.data, wn.data, EXACT, gn.guards);
      res.compare(`${name}: the scale, the separate kernels' bits`, gc.data, wc.data, EXACT, gc.guards);
      let ss = 0;
      for (const h of set) for (const v of h) ss += v * v;
      const norm = Math.sqrt(ss), coef = Math.min(1, maxNorm / (norm + 1e-6));
      const terms = ns.reduce((a, b) => a + b, 0) + 12;
      res.compare(`${name}: against float64`, Float32Array.of(gn.data[0]!, gc.data[0]!), [norm, coef], (i) => (i === 0 ? terms * U * norm : (terms + 4) * U * coef), gn.guards && gc.guards);
      const want = Math.ceil(set.length / 2) + 1;
      expect(res, `${name}: ${want} dispatches, 2 arrays a dispatch`, lim.dispatches() === want, `${lim.dispatches()} dispatches`);
    }
  }
  return res.list;
}

async function scaleCases(kit: Kit): Promise<CaseResult[]> {
  const k = kit.kernels(), res = kit.results();
  const sizes = [3, 0, 700, 1, 256, 257, 5000, 64, 129];
  for (const [what, storage] of [["the device's bindings", 0], ["2 a dispatch", 3]] as const) {
    const hosts = sizes.map((n, j) => randn(rng(1500 + j), n, 2));
    const xs = hosts.map((h, j) => kit.place(h, 1 + j));
    // the scalar in the same buffer as array 2 (its guard element before it), read through a copy
    const s = Math.fround(0.3719);
    const host2 = new Float32Array(hosts[2]!.length + 1);
    host2.set(hosts[2]!, 1);
    host2[0] = s;
    const shared = kit.place(host2, 3);
    const scalar: GpuArray = { buffer: shared.arr.buffer, offset: shared.arr.offset, length: 1 };
    const x2: GpuArray = { buffer: shared.arr.buffer, offset: shared.arr.offset + 1, length: hosts[2]!.length };
    const arrays = xs.map((x, j) => (j === 2 ? x2 : x.arr));
    // array 4 listed twice, first: scaled twice (its second listing starts a dispatch of its own)
    const list = [arrays[4]!, ...arrays], ns = [sizes[4]!, ...sizes];
    const lim = limited(k, storage === 0 ? k.maxStorageBuffers : storage);
    scaleArrays(lim.ctx, list, ns, scalar);
    for (const [j, h] of hosts.entries()) {
      const times = j === 4 ? 2 : 1;
      const want = h.map((v) => { let y = v; for (let t = 0; t < times; t++) y = Math.fround(y * s); return y; });
      const got = await kit.fetchPlaced(j === 2 ? shared : xs[j]!);
      const data = j === 2 ? got.data.slice(1) : got.data;
      if (j === 2) res.compare(`${what}: the scalar beside array 2 unchanged`, got.data.slice(0, 1), [s], EXACT, got.guards);
      res.compare(`${what}: array ${j} (n ${h.length})${times === 2 ? ", listed twice" : ""}`, data, want, EXACT, got.guards);
    }
    if (storage === 3) {
      // 9 non-empty listings, 2 a dispatch: [4], [4, 0], [2, 3], [5, 6], [7, 8]
      expect(res, `${what}: 5 dispatches`, lim.dispatches() === 5, `${lim.dispatches()} dispatches`);
    }
  }
  return res.list;
}

async function fillCases(kit: Kit): Promise<CaseResult[]> {
  const k = kit.kernels(), res = kit.results();
  for (const [n, v] of [[1, 0], [257, -2.5], [3000, 1 / 3], [5, NaN], [7, -Infinity]] as const) {
    const p = kit.output(n, 2);
    k.fill(p.arr, n, v);
    const got = await kit.fetchPlaced(p);
    res.compare(`fill ${n} with ${v}`, got.data, new Float32Array(n).fill(v), EXACT, got.guards);
  }
  return res.list;
}

/**
 * Adam over many parameters whose moments are views of one flat array each (as the optimizers keep
 * them), with and without a scale on the gradients, where a kernel binds the device's storage
 * arrays, 6 or 5: the bits of one call per parameter on arrays of their own, and as many
 * dispatches as the bindings allow (each distinct buffer bound once: webgpu/shared-bindings.ts).
 */
async function adamCases(kit: Kit): Promise<CaseResult[]> {
  const k = kit.kernels(), res = kit.results();
  const sizes = [300, 1, 0, 257, 64, 1000, 5], total = sizes.reduce((a, b) => a + b, 0);
  const starts = sizes.map((_, j) => sizes.slice(0, j).reduce((a, b) => a + b, 0));
  const o = { b1: 0.9, b2: 0.999, eps: 1e-8, decay: 1 - 1e-2 * 0.05, l2: 0, maximize: false };
  const ps = sizes.map((n, j) => randn(rng(1200 + j), n, 1)), gs = sizes.map((n, j) => randn(rng(1300 + j), n, 3));
  const m0 = randn(rng(1400), total, 0.1), v0 = randn(rng(1401), total, 0.1).map((x) => x * x);
  const steps = (j: number): { stepSize: number; bc2Sqrt: number } => ({ stepSize: 1e-2 / (1 - 0.9 ** (j + 1)), bc2Sqrt: Math.sqrt(1 - 0.999 ** (j + 1)) });
  for (const scaled of [false, true]) {
    // the reference: one call per parameter, each on arrays of its own
    const want = sizes.map((n, j) => ({ p: kit.place(ps[j]!, 1), g: kit.place(gs[j]!, 2), m: kit.place(m0.slice(starts[j], starts[j]! + n), 3), v: kit.place(v0.slice(starts[j], starts[j]! + n), 1) }));
    const sc = scaled ? kit.place(Float32Array.of(Math.fround(0.37)), 2) : null;
    for (const [j, w] of want.entries()) {
      k.adamSteps([{ p: w.p.arr, g: w.g.arr, m: w.m.arr, v: w.v.arr, vmax: null, n: sizes[j]!, ...steps(j) }], o, sc?.arr ?? null);
    }
    for (const storage of [0, 6, 5]) {
      const what = `adamSteps, moments in one array each${scaled ? ", gradients scaled" : ""}, ${storage === 0 ? "the device's" : storage} bindings`;
      const P = ps.map((x) => kit.place(x, 1)), G = gs.map((x) => kit.place(x, 2)), M = kit.place(m0, 3), V = kit.place(v0, 1);
      const view = (a: GpuArray, j: number): GpuArray => ({ buffer: a.buffer, offset: a.offset + starts[j]!, length: sizes[j]!, base: a });
      const lim = limited(k, storage === 0 ? k.maxStorageBuffers : storage);
      const s2 = scaled ? kit.place(Float32Array.of(Math.fround(0.37)), 2) : null;
      adamSteps(lim.ctx, sizes.map((n, j) => ({ p: P[j]!.arr, g: G[j]!.arr, m: view(M.arr, j), v: view(V.arr, j), vmax: null, n, ...steps(j) })), o, s2?.arr ?? null);
      const gotM = await kit.fetchPlaced(M), gotV = await kit.fetchPlaced(V);
      for (const [j, w] of want.entries()) {
        if (sizes[j] === 0) continue;
        const wp = await kit.fetchPlaced(w.p), wm = await kit.fetchPlaced(w.m), wv = await kit.fetchPlaced(w.v);
        const gp = await kit.fetchPlaced(P[j]!);
        res.compare(`${what}: parameter ${j} (n ${sizes[j]})`, gp.data, wp.data, EXACT, gp.guards);
        res.compare(`${what}: its first moment`, gotM.data.slice(starts[j], starts[j]! + sizes[j]!), wm.data, EXACT, gotM.guards);
        res.compare(`${what}: its second moment`, gotV.data.slice(starts[j], starts[j]! + sizes[j]!), wv.data, EXACT, gotV.guards);
      }
      if (storage !== 0) {
        // 6 parameters with elements; each binds p and g, the moments' two arrays and the scale go once a dispatch
        const per = Math.floor((storage - 2 - (scaled ? 1 : 0)) / 2);
        const wantDispatches = Math.ceil(6 / per);
        expect(res, `${what}: ${wantDispatches} dispatches`, lim.dispatches() === wantDispatches, `${lim.dispatches()} dispatches`);
      }
    }
  }
  return res.list;
}

/**
 * SGD over many parameters, with momentum buffers that are views of one flat array (as the
 * optimizer keeps them; some on their first use) and without, gradients scaled and not, where a
 * kernel binds the device's storage arrays, 6 or 5: the bits of one call per parameter on arrays
 * of its own, and as many dispatches as the bindings allow.
 */
async function sgdCases(kit: Kit): Promise<CaseResult[]> {
  const k = kit.kernels(), res = kit.results();
  const sizes = [300, 1, 0, 257, 64, 1000, 5], total = sizes.reduce((a, b) => a + b, 0);
  const starts = sizes.map((_, j) => sizes.slice(0, j).reduce((a, b) => a + b, 0));
  const first = (j: number): boolean => j % 3 === 1;
  const ps = sizes.map((n, j) => randn(rng(1500 + j), n, 1)), gs = sizes.map((n, j) => randn(rng(1600 + j), n, 3));
  const b0 = randn(rng(1700), total, 0.5);
  for (const momentum of [true, false]) {
    const o = momentum ? { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01, nesterov: false, maximize: true }
      : { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };
    for (const scaled of [false, true]) {
      // the reference: one call per parameter, each on arrays of its own
      const want = sizes.map((n, j) => ({ p: kit.place(ps[j]!, 1), g: kit.place(gs[j]!, 2), buf: kit.place(b0.slice(starts[j], starts[j]! + n), 3) }));
      const sc = scaled ? kit.place(Float32Array.of(Math.fround(0.37)), 2) : null;
      for (const [j, w] of want.entries()) {
        k.sgdSteps([{ p: w.p.arr, g: w.g.arr, buf: momentum ? w.buf.arr : null, n: sizes[j]!, first: first(j) }], o, sc?.arr ?? null);
      }
      for (const storage of [0, 6, 5]) {
        const what = `sgdSteps, ${momentum ? "momentum buffers in one array" : "no momentum"}${scaled ? ", gradients scaled" : ""}, ${storage === 0 ? "the device's" : storage} bindings`;
        const P = ps.map((x) => kit.place(x, 1)), G = gs.map((x) => kit.place(x, 2)), Bf = kit.place(b0, 3);
        const view = (a: GpuArray, j: number): GpuArray => ({ buffer: a.buffer, offset: a.offset + starts[j]!, length: sizes[j]!, base: a });
        const lim = limited(k, storage === 0 ? k.maxStorageBuffers : storage);
        const s2 = scaled ? kit.place(Float32Array.of(Math.fround(0.37)), 2) : null;
        sgdSteps(lim.ctx, sizes.map((n, j) => ({ p: P[j]!.arr, g: G[j]!.arr, buf: momentum ? view(Bf.arr, j) : null, n, first: first(j) })), o, s2?.arr ?? null);
        const gotB = await kit.fetchPlaced(Bf);
        for (const [j, w] of want.entries()) {
          if (sizes[j] === 0) continue;
          const wp = await kit.fetchPlaced(w.p), gp = await kit.fetchPlaced(P[j]!);
          res.compare(`${what}: parameter ${j} (n ${sizes[j]}${first(j) ? ", first use" : ""})`, gp.data, wp.data, EXACT, gp.guards);
          if (momentum) {
            const wb = await kit.fetchPlaced(w.buf);
            res.compare(`${what}: its momentum buffer`, gotB.data.slice(starts[j], starts[j]! + sizes[j]!), wb.data, EXACT, gotB.guards);
          }
        }
        if (storage !== 0) {
          // 6 parameters with elements; each binds p and g, the buffers' array and the scale go once a dispatch
          const per = Math.floor((storage - (momentum ? 1 : 0) - (scaled ? 1 : 0)) / 2);
          const wantDispatches = Math.ceil(6 / per);
          expect(res, `${what}: ${wantDispatches} dispatches`, lim.dispatches() === wantDispatches, `${lim.dispatches()} dispatches`);
        }
      }
    }
  }
  return res.list;
}

export function clipFamilies(kit: Kit): Record<string, () => Promise<CaseResult[]>> {
  return {
    clip: async () => [...(await sumOfSquaresCases(kit)), ...(await clipNormCases(kit)), ...(await scaleCases(kit)), ...(await fillCases(kit)),
      ...(await adamCases(kit)), ...(await sgdCases(kit))],
  };
}
