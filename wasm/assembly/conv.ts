/**
 * Convolution (Backend.conv2dForward / conv2dBackwardInput / conv2dBackwardWeight; sizes:
 * Conv2dArgs in src/backend/backend.ts) on the gemm's 5 x 8 register tile, im2col fused into the
 * packing as in native/conv.cc. Per image b and group g, with L = oH oW positions and
 * Kg = (C / G) kH kW taps, tap k = (c kH + i) kW + j:
 *
 *   forward       y_bg [Og, L]   = w_g [Og, Kg] @ cols_bg [Kg, L]           B panels gathered from x
 *   input grad    dx_bg         += col2im(w_g^T [Kg, Og] @ dy_bg [Og, L])   each tile added into dx
 *   weight grad   dw_g [Og, Kg]  = sum_b dy_bg [Og, L] @ cols_bg^T [L, Kg]  B panels gathered transposed
 *
 * cols_bg(k, l) for l = oh oW + ow is x_b at channel g Cg + c, row oh sH - padTop + i dH and column
 * ow sW - padLeft + j dW, zero outside the image. Each unit first copies its image planes into a
 * zero-bordered buffer [Cg, Hp, Wp] that holds every row and column a tap reads, so that
 * cols(k, l) = xp[tap[k] + pos[l]] (tap[k] = c Hp Wp + i dH Wp + j dW, pos[l] = oh sH Wp + ow sW)
 * with no bounds to test; the input gradient is added into such a buffer (rows of w^T in (i, j, c)
 * order, so that a tile's rows are one plane apart) and copied out. A [kc, 8] panel of the columns
 * is gathered at a time; they are never written out whole.
 *
 * Parts: the forward splits into (group, image, column chunk) units, the input gradient into
 * (group, image, channel chunk) units (a unit owns its dx channels), the weight gradient into
 * 8-column panels of dw (a part sums every image for its panels, in order); chunks only when the
 * images x groups are fewer than the parts. Every output element is summed in the same order
 * whatever `parts` is. Part p's scratch starts at work + p * conv2dWorkBytes(...).
 */
import { kernel5x8, MR, NR } from "./gemm";
import { partStart } from "./parts";

/** Longest depth block: a [KC, NR] B panel of 8 KiB. */
const KC: i32 = 256;

// @ts-ignore: decorator
@inline function roundUp(n: i32, m: i32): i32 {
  return (n + m - 1) / m * m;
}

// @ts-ignore: decorator
@inline function f32At(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

// @ts-ignore: decorator
@inline function i32At(p: usize, i: i32): i32 {
  return load<i32>(p + (<usize>i << 2));
}

/** Depth blocks of at most KC, balanced: ceil(K / blocks). */
function depthBlock(K: i32): i32 {
  const blocks = (K + KC - 1) / KC;
  return max(1, (K + blocks - 1) / blocks);
}

/** Depth blocks of positions for the weight gradient: whole output rows when a row fits, else balanced. */
function positionBlock(oH: i32, oW: i32): i32 {
  if (oW > KC) return depthBlock(oH * oW);
  const rows = KC / oW, blocks = (oH + rows - 1) / rows;
  return max(1, (oH + blocks - 1) / blocks) * oW;
}

/** Rows and columns of the zero-bordered planes: every one a tap reads. */
// @ts-ignore: decorator
@inline function padded(o: i32, s: i32, k: i32, d: i32): i32 {
  return o == 0 ? 0 : (o - 1) * s + (k - 1) * d + 1;
}

// Sizes (floats, each rounded up to 16: 64 bytes) of a part's scratch sections, set by sections(),
// and the pointers of the running part's sections, set by partWork(). Globals are per instance:
// each thread runs its own instance of the module, one part at a time.
let zTap = 0, zPos = 0, zPlanes = 0, zA = 0, zB = 0, zTile = 0;
let pTap: usize = 0, pPos: usize = 0, pPlanes: usize = 0, pA: usize = 0, pB: usize = 0, pTile: usize = 0;

/** Sets the section sizes: tap and position tables, planes, A panels, B panel, one tile. */
function sections(C: i32, O: i32, kH: i32, kW: i32, oH: i32, oW: i32, sH: i32, sW: i32, dH: i32, dW: i32, G: i32): i32 {
  const Cg = C / G, Kg = Cg * kH * kW, Og = O / G, L = oH * oW;
  const kcF = depthBlock(Kg), kcW = positionBlock(oH, oW);
  zTap = roundUp(Kg, 16);
  zPos = roundUp(L, 16);
  zPlanes = roundUp(Cg * padded(oH, sH, kH, dH) * padded(oW, sW, kW, dW), 16);
  zA = roundUp(max(roundUp(Og, MR) * Kg, max(kH * kW * roundUp(Cg, MR) * Og, roundUp(Og, MR) * kcW)), 16);
  zB = roundUp(max(kcF, max(Og, kcW)) * NR, 16);
  zTile = roundUp(MR * NR, 16);
  return zTap + zPos + zPlanes + zA + zB + zTile;
}

/** Bytes of scratch each part of any of the three kernels needs for these sizes. */
export function conv2dWorkBytes(C: i32, O: i32, kH: i32, kW: i32, oH: i32, oW: i32, sH: i32, sW: i32, dH: i32, dW: i32,
  G: i32): usize {
  return (<usize>sections(C, O, kH, kW, oH, oW, sH, sW, dH, dW, G) << 2) + 64;
}

/** Points the section pointers at part `part`'s scratch and fills its tap and position tables. */
function partWork(work: usize, part: i32, C: i32, O: i32, kH: i32, kW: i32, oH: i32, oW: i32, sH: i32, sW: i32,
  dH: i32, dW: i32, G: i32): void {
  const bytes = conv2dWorkBytes(C, O, kH, kW, oH, oW, sH, sW, dH, dW, G);
  pTap = ((work + 63) & ~(<usize>63)) + <usize>part * bytes;
  pPos = f32At(pTap, zTap);
  pPlanes = f32At(pPos, zPos);
  pA = f32At(pPlanes, zPlanes);
  pB = f32At(pA, zA);
  pTile = f32At(pB, zB);
  const Hp = padded(oH, sH, kH, dH), Wp = padded(oW, sW, kW, dW), Kg = C / G * kH * kW, khw = kH * kW;
  for (let k = 0; k < Kg; k++) store<i32>(pTap + (<usize>k << 2), k / khw * Hp * Wp + k / kW % kH * dH * Wp + k % kW * dW);
  for (let l = 0; l < oH * oW; l++) store<i32>(pPos + (<usize>l << 2), l / oW * sH * Wp + l % oW * sW);
}

/** dst [n, Hp, Wp] = planes src [n, H, W] placed at (padTop, padLeft), zero elsewhere. */
function padPlanes(dst: usize, src: usize, n: i32, H: i32, W: i32, Hp: i32, Wp: i32, padTop: i32, padLeft: i32): void {
  const top = min(padTop, Hp), rows = max(0, min(H, Hp - padTop));
  const left = min(padLeft, Wp), cols = max(0, min(W, Wp - padLeft));
  for (let c = 0; c < n; c++) {
    const d = f32At(dst, c * Hp * Wp), x = f32At(src, c * H * W);
    memory.fill(d, 0, <usize>(top * Wp) << 2);
    for (let r = 0; r < rows; r++) {
      const dr = f32At(d, (top + r) * Wp);
      memory.fill(dr, 0, <usize>left << 2);
      memory.copy(f32At(dr, left), f32At(x, r * W), <usize>cols << 2);
      memory.fill(f32At(dr, left + cols), 0, <usize>(Wp - left - cols) << 2);
    }
    memory.fill(f32At(d, (top + rows) * Wp), 0, <usize>((Hp - top - rows) * Wp) << 2);
  }
}

/** dst [n, H, W] = the image part of planes src [n, Hp, Wp]; pixels no tap reads get 0. */
function unpadPlanes(dst: usize, src: usize, n: i32, H: i32, W: i32, Hp: i32, Wp: i32, padTop: i32, padLeft: i32): void {
  const rows = max(0, min(H, Hp - padTop)), cols = max(0, min(W, Wp - padLeft));
  for (let c = 0; c < n; c++) {
    const d = f32At(dst, c * H * W), p = f32At(src, c * Hp * Wp);
    for (let r = 0; r < rows; r++) {
      if (cols > 0) memory.copy(f32At(d, r * W), f32At(p, (padTop + r) * Wp + padLeft), <usize>cols << 2);
      memory.fill(f32At(d, r * W + cols), 0, <usize>(W - cols) << 2);
    }
    memory.fill(f32At(d, rows * W), 0, <usize>((H - rows) * W) << 2);
  }
}

/**
 * A [M, K] (element (i, k) at a[i rs + k cs], in elements) as MR-row panels in depth blocks of kc:
 * the block at depth p0 starts at dst + p0 Mp (Mp = M rounded up to MR), its panel q at
 * + q MR kcb (kcb = min(kc, K - p0)), element (k, r) of the panel at + k MR + r; rows past M are zero.
 */
function packPanels(dst: usize, a: usize, rs: i32, cs: i32, M: i32, K: i32, kc: i32): void {
  const Mp = roundUp(M, MR);
  for (let p0 = 0; p0 < K; p0 += kc) {
    const kcb = min(kc, K - p0);
    for (let i0 = 0; i0 < Mp; i0 += MR) {
      const panel = f32At(dst, p0 * Mp + i0 * kcb);
      const mr = min(MR, M - i0);
      for (let r = 0; r < MR; r++) {
        const d = f32At(panel, r);
        if (r < mr) {
          const s = f32At(a, (i0 + r) * rs + p0 * cs);
          for (let k = 0; k < kcb; k++) store<f32>(d + (<usize>(k * MR) << 2), load<f32>(s + (<usize>(k * cs) << 2)));
        } else {
          for (let k = 0; k < kcb; k++) store<f32>(d + (<usize>(k * MR) << 2), 0);
        }
      }
    }
  }
}

/** Positions l0 .. l0 + n - 1 sit at consecutive offsets of the planes (every step of pos is at least 1). */
// @ts-ignore: decorator
@inline function consecutive(pos: usize, l0: i32, n: i32): bool {
  return i32At(pos, l0 + n - 1) - i32At(pos, l0) == n - 1;
}

/** dst[k NR + t] = cols(k0 + k, l0 + t) for k < kc, t < nr; zero for nr <= t < NR. */
function packColumns(dst: usize, xp: usize, tap: usize, pos: usize, k0: i32, kc: i32, l0: i32, nr: i32): void {
  if (nr == NR && consecutive(pos, l0, NR)) {
    const base = i32At(pos, l0);
    for (let k = 0; k < kc; k++) {
      const s = f32At(xp, i32At(tap, k0 + k) + base), d = dst + (<usize>(k * NR) << 2);
      v128.store(d, v128.load(s));
      v128.store(d, v128.load(s, 16), 16);
    }
    return;
  }
  for (let k = 0; k < kc; k++) {
    const xk = f32At(xp, i32At(tap, k0 + k)), d = dst + (<usize>(k * NR) << 2);
    for (let t = 0; t < NR; t++) store<f32>(f32At(d, t), t < nr ? load<f32>(f32At(xk, i32At(pos, l0 + t))) : 0);
  }
}

/** dst[p NR + t] = cols(k0 + t, l0 + p) for p < kc, t < nt; zero for nt <= t < NR. */
function packColumnsT(dst: usize, xp: usize, tap: usize, pos: usize, k0: i32, nt: i32, l0: i32, kc: i32): void {
  let p = 0;
  if (nt == NR) {
    // 4 consecutive positions x 4 taps at a time: 4 loads, a 4 x 4 transpose, 4 stores
    for (; p + 4 <= kc; p += 4) {
      const base = i32At(pos, l0 + p), d = dst + (<usize>(p * NR) << 2);
      if (i32At(pos, l0 + p + 3) - base != 3) {
        for (let q = 0; q < 4; q++) {
          const o = i32At(pos, l0 + p + q), dq = d + (<usize>(q * NR) << 2);
          for (let t = 0; t < NR; t++) store<f32>(f32At(dq, t), load<f32>(f32At(xp, i32At(tap, k0 + t) + o)));
        }
        continue;
      }
      for (let t = 0; t < NR; t += 4) {
        const r0 = v128.load(f32At(xp, i32At(tap, k0 + t) + base)), r1 = v128.load(f32At(xp, i32At(tap, k0 + t + 1) + base));
        const r2 = v128.load(f32At(xp, i32At(tap, k0 + t + 2) + base)), r3 = v128.load(f32At(xp, i32At(tap, k0 + t + 3) + base));
        const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
        const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
        const dt = f32At(d, t);
        v128.store(dt, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
        v128.store(dt, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), NR * 4);
        v128.store(dt, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), NR * 8);
        v128.store(dt, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), NR * 12);
      }
    }
  }
  for (; p < kc; p++) {
    const o = i32At(pos, l0 + p), d = dst + (<usize>(p * NR) << 2);
    for (let t = 0; t < NR; t++) store<f32>(f32At(d, t), t < nt ? load<f32>(f32At(xp, i32At(tap, k0 + t) + o)) : 0);
  }
}

/** C tile [mr, nr] at c (row stride ldc) (+)= a-panel @ b-panel over kc; not whole: through tmp. */
function tile(ap: usize, bp: usize, kc: i32, c: usize, ldc: i32, mr: i32, nr: i32, accumulate: bool, tmp: usize): void {
  if (mr == MR && nr == NR) {
    kernel5x8(ap, bp, kc, c, ldc, accumulate);
    return;
  }
  kernel5x8(ap, bp, kc, tmp, NR, false);
  for (let r = 0; r < mr; r++) {
    const cr = c + (<usize>(r * ldc) << 2), tr = tmp + (<usize>(r * NR) << 2);
    for (let q = 0; q < nr; q++) {
      const o = cr + (<usize>q << 2), t = load<f32>(tr + (<usize>q << 2));
      store<f32>(o, accumulate ? load<f32>(o) + t : t);
    }
  }
}

/** out [B, O, oH, oW] = conv(x, w), plus bias [O] when bias is not 0: part `part` of `parts`. */
export function conv2dForward(out: usize, x: usize, w: usize, bias: usize, B: i32, C: i32, H: i32, W: i32, O: i32,
  kH: i32, kW: i32, oH: i32, oW: i32, sH: i32, sW: i32, padTop: i32, padLeft: i32, dH: i32, dW: i32, G: i32,
  work: usize, part: i32, parts: i32): void {
  const Cg = C / G, Og = O / G, Kg = Cg * kH * kW, L = oH * oW;
  if (B == 0 || O == 0 || L == 0) return;
  const Hp = padded(oH, sH, kH, dH), Wp = padded(oW, sW, kW, dW);
  const kc = depthBlock(Kg), Mp = roundUp(Og, MR), panels = (L + NR - 1) / NR, BG = B * G;
  const chunks = parts > BG ? min(panels, (parts + BG - 1) / BG) : 1, units = BG * chunks;
  partWork(work, part, C, O, kH, kW, oH, oW, sH, sW, dH, dW, G);
  let packed = -1, planesOf = -1;
  const u1 = partStart(units, part + 1, parts);
  for (let u = partStart(units, part, parts); u < u1; u++) {
    const g = u / (B * chunks), b = u / chunks % B, ch = u % chunks;
    // 1. w_g as panels in depth blocks, once per group of this part
    if (g != packed) {
      packPanels(pA, f32At(w, g * Og * Kg), Kg, 1, Og, Kg, kc);
      packed = g;
    }
    // 2. the image's group into zero-bordered planes (once for its column chunks)
    if (b * G + g != planesOf) {
      padPlanes(pPlanes, f32At(x, (b * C + g * Cg) * H * W), Cg, H, W, Hp, Wp, padTop, padLeft);
      planesOf = b * G + g;
    }
    const n0 = partStart(panels, ch, chunks) * NR, n1 = min(L, partStart(panels, ch + 1, chunks) * NR);
    const yb = f32At(out, (b * O + g * Og) * L);
    for (let jr = n0; jr < n1; jr += NR) {
      const nr = min(NR, n1 - jr);
      if (bias) {
        for (let o = 0; o < Og; o++) {
          const v = load<f32>(f32At(bias, g * Og + o)), row = f32At(yb, o * L + jr);
          for (let t = 0; t < nr; t++) store<f32>(f32At(row, t), v);
        }
      }
      for (let p0 = 0; p0 < Kg; p0 += kc) {
        const kcb = min(kc, Kg - p0);
        // 3. cols [kcb, nr] of taps p0.. at positions jr.., then every row tile of y over them
        packColumns(pB, pPlanes, pTap, pPos, p0, kcb, jr, nr);
        const blk = f32At(pA, p0 * Mp);
        for (let ir = 0; ir < Og; ir += MR) {
          tile(f32At(blk, ir * kcb), pB, kcb, f32At(yb, ir * L + jr), L, min(MR, Og - ir), nr, p0 > 0 || bias != 0, pTile);
        }
      }
    }
  }
}

/** dx [B, C, H, W] = the gradient of x for dy [B, O, oH, oW] (written): part `part` of `parts`. */
export function conv2dBackwardInput(dx: usize, dy: usize, w: usize, B: i32, C: i32, H: i32, W: i32, O: i32,
  kH: i32, kW: i32, oH: i32, oW: i32, sH: i32, sW: i32, padTop: i32, padLeft: i32, dH: i32, dW: i32, G: i32,
  work: usize, part: i32, parts: i32): void {
  const Cg = C / G, Og = O / G, khw = kH * kW, Kg = Cg * khw, L = oH * oW;
  if (B == 0 || C == 0) return;
  const Hp = padded(oH, sH, kH, dH), Wp = padded(oW, sW, kW, dW), plane = Hp * Wp, BG = B * G;
  const chunks = parts > BG ? min(Cg, (parts + BG - 1) / BG) : 1, units = BG * chunks;
  partWork(work, part, C, O, kH, kW, oH, oW, sH, sW, dH, dW, G);
  let packed = -1;
  const u1 = partStart(units, part + 1, parts);
  for (let u = partStart(units, part, parts); u < u1; u++) {
    const g = u / (B * chunks), b = u / chunks % B, ch = u % chunks;
    const c0 = partStart(Cg, ch, chunks), c1 = partStart(Cg, ch + 1, chunks), nc = c1 - c0, Mc = roundUp(nc, MR);
    // the rows of w_g^T for this unit's channels in (i, j, c) order, block ij of Mc rows (one depth
    // block): a tile's rows are channels of one tap, one plane apart; once per group unless chunked
    if (chunks > 1 || g != packed) {
      for (let ij = 0; ij < khw; ij++) {
        packPanels(f32At(pA, ij * Mc * Og), f32At(w, g * Og * Kg + c0 * khw + ij), khw, Kg, nc, Og, max(Og, 1));
      }
      packed = g;
    }
    memory.fill(f32At(pPlanes, c0 * plane), 0, <usize>(nc * plane) << 2);
    const dyb = f32At(dy, (b * O + g * Og) * L);
    for (let jr = 0; jr < L; jr += NR) {
      const nr = min(NR, L - jr);
      const direct = consecutive(pPos, jr, nr), base = i32At(pPos, jr);
      // 1. dy [Og, nr] at positions jr.. as one panel
      for (let o = 0; o < Og; o++) {
        const d = f32At(pB, o * NR), s = f32At(dyb, o * L + jr);
        if (nr == NR) {
          v128.store(d, v128.load(s));
          v128.store(d, v128.load(s, 16), 16);
        } else {
          for (let t = 0; t < NR; t++) store<f32>(f32At(d, t), t < nr ? load<f32>(f32At(s, t)) : 0);
        }
      }
      // 2. every row tile of w^T @ dy added where its taps read (col2im): straight into the planes
      // when the positions are consecutive there, else through the tile
      for (let ij = 0; ij < khw; ij++) {
        const aij = f32At(pA, ij * Mc * Og), tapOff = ij / kW * dH * Wp + ij % kW * dW;
        for (let ir = 0; ir < nc; ir += MR) {
          const mr = min(MR, nc - ir), off = (c0 + ir) * plane + tapOff;
          if (direct) {
            tile(f32At(aij, ir * Og), pB, Og, f32At(pPlanes, off + base), plane, mr, nr, true, pTile);
          } else {
            kernel5x8(f32At(aij, ir * Og), pB, Og, pTile, NR, false);
            for (let r = 0; r < mr; r++) {
              const d = f32At(pPlanes, off + r * plane), v = f32At(pTile, r * NR);
              for (let t = 0; t < nr; t++) {
                const q = f32At(d, i32At(pPos, jr + t));
                store<f32>(q, load<f32>(q) + load<f32>(f32At(v, t)));
              }
            }
          }
        }
      }
    }
    // 3. the image part of the planes into dx
    unpadPlanes(f32At(dx, (b * C + g * Cg + c0) * H * W), f32At(pPlanes, c0 * plane), nc, H, W, Hp, Wp, padTop, padLeft);
  }
}

/** dw [O, C / G, kH, kW] = the gradient of w for dy and x (written): part `part` of `parts`. */
export function conv2dBackwardWeight(dw: usize, dy: usize, x: usize, B: i32, C: i32, H: i32, W: i32, O: i32,
  kH: i32, kW: i32, oH: i32, oW: i32, sH: i32, sW: i32, padTop: i32, padLeft: i32, dH: i32, dW: i32, G: i32,
  work: usize, part: i32, parts: i32): void {
  const Cg = C / G, Og = O / G, Kg = Cg * kH * kW, L = oH * oW;
  const panels = (Kg + NR - 1) / NR, units = G * panels;
  const u0 = partStart(units, part, parts), u1 = partStart(units, part + 1, parts);
  // zero this part's columns of dw
  for (let u = u0; u < u1; u++) {
    const g = u / panels, jr = u % panels * NR, nt = min(NR, Kg - jr);
    for (let o = 0; o < Og; o++) memory.fill(f32At(dw, (g * Og + o) * Kg + jr), 0, <usize>nt << 2);
  }
  if (B == 0 || O == 0 || L == 0 || u0 >= u1) return;
  const Hp = padded(oH, sH, kH, dH), Wp = padded(oW, sW, kW, dW);
  const kc = positionBlock(oH, oW);
  partWork(work, part, C, O, kH, kW, oH, oW, sH, sW, dH, dW, G);
  for (let g = u0 / panels; g < G && g * panels < u1; g++) {
    const q0 = max(u0, g * panels) - g * panels, q1 = min(u1, (g + 1) * panels) - g * panels;
    const dwg = f32At(dw, g * Og * Kg);
    for (let b = 0; b < B; b++) {
      const dyb = f32At(dy, (b * O + g * Og) * L);
      // 1. the image's group into zero-bordered planes
      padPlanes(pPlanes, f32At(x, (b * C + g * Cg) * H * W), Cg, H, W, Hp, Wp, padTop, padLeft);
      for (let p0 = 0; p0 < L; p0 += kc) {
        const kcb = min(kc, L - p0);
        // 2. dy [Og, kcb] of positions p0.. as panels
        packPanels(pA, f32At(dyb, p0), L, 1, Og, kcb, kcb);
        for (let q = q0; q < q1; q++) {
          const jr = q * NR, nt = min(NR, Kg - jr);
          // 3. cols^T [kcb, nt] of positions p0.., taps jr.., then dw_g [:, jr..] += dy @ cols^T
          packColumnsT(pB, pPlanes, pTap, pPos, jr, nt, p0, kcb);
          for (let ir = 0; ir < Og; ir += MR) {
            tile(f32At(pA, ir * kcb), pB, kcb, f32At(dwg, ir * Kg + jr), Kg, min(MR, Og - ir), nt, true, pTile);
          }
        }
      }
    }
  }
}
