/**
 * The negative log-likelihood kernels on the WebGPU kernel page (webgpu-page.ts passes its helpers
 * in): nllForward and nllBackward (WGSL nll.ts) against the js kernels (backend/js/nll.ts), which
 * take the same float32 steps in the same order, so every element must match to the bit. Shapes:
 * one row, rows past 256 threads, N x C past 256 threads for the backward, C = 1; label smoothing
 * 0 and not; ignored rows (id -1), a row whose entries are all -Infinity ignored, -Infinity
 * entries in kept rows (+Infinity with smoothing); every array at an offset between guard values.
 * The backward also from one gradient for all rows times a scale (a reduced loss's), the bits of
 * the scaled gradient broadcast.
 *
 * ```ts
 * const families = nllFamilies({ kernels: () => k, place, output, fetchPlaced, results: () => new Results() });
 * ```
 */
import { nllBackward, nllForward } from "../../src/backend/js/nll.js";
import type { Kit } from "./webgpu-efficient-cases.js";
import type { CaseResult } from "./webgpu-page.js";
import { randn, rng } from "./webgpu-page-setup.js";

const EXACT = (): number => 1e-37;

/** N, C, eps, which rows are ignored (every `ignoreEvery`th, 0: none), -Infinity entries (every `infEvery`th element of a kept row, 0: none). */
const CASES: [number, number, number, number, number][] = [
  [1, 7, 0, 0, 0],
  [1, 7, 0.1, 0, 0],
  [300, 11, 0, 3, 0],
  [300, 11, 0.05, 4, 0],
  [40, 33, 0.1, 5, 7],
  [40, 33, 0, 5, 7],
  [513, 1, 0, 2, 0],
  [64, 257, 0.2, 0, 0],
];

async function nllCases(kit: Kit): Promise<CaseResult[]> {
  const k = kit.kernels(), res = kit.results();
  let pad = 0;
  for (const [N, C, eps, ignoreEvery, infEvery] of CASES) {
    const r = rng(1300 + N + C);
    const lp = randn(r, N * C, 2, -3), g = randn(r, N);
    const ids = new Float32Array(N);
    for (let n = 0; n < N; n++) {
      ids[n] = ignoreEvery > 0 && n % ignoreEvery === 1 ? -1 : Math.floor(r() * C);
      if (ids[n]! < 0) lp.fill(-Infinity, n * C, n * C + C); // an ignored row is not read
      else if (infEvery > 0) for (let c = 0; c < C; c++) if ((n * C + c) % infEvery === 0 && c !== ids[n]) lp[n * C + c] = -Infinity;
    }
    const keep = 1 - eps, spread = eps / C;
    const perWant = new Float32Array(N), dWant = new Float32Array(N * C);
    nllForward(perWant, lp, ids, N, C, keep, spread);
    nllBackward(dWant, g, ids, N, C, keep, spread, 1, 1);
    // a reduced loss's one gradient, scaled (1 / count for a mean): the js kernel's bits, and those
    // of the scaled value broadcast to every row
    const scale = 1 / Math.max(1, N - 1), one = Float32Array.of(g[0]!);
    const dOneWant = new Float32Array(N * C), dBroadcast = new Float32Array(N * C);
    nllBackward(dOneWant, one, ids, N, C, keep, spread, scale, 0);
    nllBackward(dBroadcast, new Float32Array(N).fill(Math.fround(one[0]! * Math.fround(scale))), ids, N, C, keep, spread, 1, 1);
    const plp = kit.place(lp, pad % 5), pids = kit.place(ids, (pad + 1) % 5), pg = kit.place(g, (pad + 2) % 5);
    const per = kit.output(N, (pad + 3) % 5), dlp = kit.output(N * C, (pad + 4) % 5);
    const pone = kit.place(one, (pad + 1) % 5), dOne = kit.output(N * C, pad % 5);
    pad++;
    k.nllForward(per.arr, plp.arr, pids.arr, N, C, keep, spread);
    k.nllBackward(dlp.arr, pg.arr, pids.arr, N, C, keep, spread, 1, 1);
    k.nllBackward(dOne.arr, pone.arr, pids.arr, N, C, keep, spread, scale, 0);
    const name = `N=${N}, C=${C}, eps ${eps}${ignoreEvery ? `, every ${ignoreEvery}th row ignored` : ""}${infEvery ? ", -Infinity entries" : ""}`;
    const gotPer = await kit.fetchPlaced(per), gotD = await kit.fetchPlaced(dlp), gotOne = await kit.fetchPlaced(dOne);
    res.compare(`${name}: rows' losses`, gotPer.data, perWant, EXACT, gotPer.guards);
    res.compare(`${name}: gradient`, gotD.data, dWant, EXACT, gotD.guards);
    res.compare(`${name}: gradient of the reduced loss, scaled`, gotOne.data, dOneWant, EXACT, gotOne.guards);
    res.compare(`${name}: the same as the scaled gradient broadcast`, dOneWant, dBroadcast, EXACT, true);
    for (const p of [plp, pids, pg, per, dlp, pone, dOne]) k.release(p.whole);
  }
  return res.list;
}

export function nllFamilies(kit: Kit): Record<string, () => Promise<CaseResult[]>> {
  return { nll: () => nllCases(kit) };
}
