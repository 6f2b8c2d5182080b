/**
 * The convolution kernels (Backend.conv2dForward / conv2dBackwardInput / conv2dBackwardWeight):
 * the js reference against direct float64 loops, the active backend against the js reference on
 * sizes that hit every edge of the fused kernels (row tiles, column panels that wrap output rows,
 * depth blocks, strides, dilation, asymmetric padding, groups, chunked units), on every native
 * instruction set and thread count, and the wasm kernels split between threads against one thread
 * bit for bit; the native kernels give the same bits on any thread count and refuse bad arguments.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { Backend, Conv2dArgs } from "../../src/backend/backend.js";
import { jsBackend } from "../../src/backend/js/index.js";
import { getNumThreads, setNumThreads } from "../../src/backend/native/index.js";
import { hostBackend } from "../../src/backend/registry.js";
import { createWasmBackendSync } from "../../src/backend/wasm/load.js";
import { Generator } from "../../src/tensor/rng.js";
import { everyConfig } from "./native-configs.js";

const gen = new Generator(17);
const active: Backend = hostBackend();

function rand(n: number): Float32Array {
  const x = new Float32Array(n);
  gen.fillNormal(x, 0, 1);
  return x;
}

/** |a - e| <= atol + rtol |e| elementwise; the first failure names the index. */
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) assert.fail(`${what}: [${i}] ${a} vs ${e}`);
  }
}

/** Bit-identical: the first differing index fails. */
function same(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: [${i}] ${actual[i]} vs ${expected[i]}`);
  }
}

/** A case: sizes and the padding on each side; oH, oW follow torch's formula. */
function args(B: number, C: number, H: number, W: number, O: number, kH: number, kW: number,
  o: { s?: [number, number]; p?: [number, number, number, number]; d?: [number, number]; G?: number } = {}): Conv2dArgs {
  const [sH, sW] = o.s ?? [1, 1], [dH, dW] = o.d ?? [1, 1], [pT, pB, pL, pR] = o.p ?? [0, 0, 0, 0];
  const oH = Math.floor((H + pT + pB - dH * (kH - 1) - 1) / sH) + 1, oW = Math.floor((W + pL + pR - dW * (kW - 1) - 1) / sW) + 1;
  return { B, C, H, W, O, kH, kW, oH, oW, sH, sW, padTop: pT, padLeft: pL, dH, dW, G: o.G ?? 1 };
}

const cases: [string, Conv2dArgs][] = [
  ["3x3 pad 1, 64 -> 64 (row tiles of every kind, whole column panels)", args(2, 64, 16, 16, 64, 3, 3, { p: [1, 1, 1, 1] })],
  ["3x3 pad 1, odd channels and sizes (edge tiles, panels that wrap rows)", args(3, 5, 7, 9, 13, 3, 3, { p: [1, 1, 1, 1] })],
  ["deep columns: 60 channels x 5x5 taps (several depth blocks)", args(1, 60, 9, 11, 7, 5, 5, { p: [2, 2, 2, 2] })],
  ["many positions: 1 x 41 x 43 (several position blocks of the weight gradient)", args(2, 3, 41, 43, 6, 3, 3, { p: [1, 1, 1, 1] })],
  ["stride [2, 3], asymmetric padding", args(2, 4, 13, 17, 9, 3, 4, { s: [2, 3], p: [0, 2, 3, 1] })],
  ["dilation [2, 3], padding", args(2, 3, 12, 14, 5, 3, 3, { d: [2, 3], p: [2, 1, 3, 3] })],
  ["groups 3, stride 2", args(2, 6, 10, 10, 9, 3, 3, { G: 3, s: [2, 2], p: [1, 1, 1, 1] })],
  ["depthwise", args(2, 8, 9, 7, 8, 3, 3, { G: 8, p: [1, 1, 1, 1] })],
  ["1x1, one image, wide channels", args(1, 40, 5, 6, 70, 1, 1)],
  ["kernel as large as the padded input (one output position)", args(3, 2, 4, 5, 3, 6, 7, { p: [1, 1, 1, 1] })],
  ["padding wider than the kernel (rows and columns of zeros)", args(1, 2, 3, 3, 4, 2, 2, { p: [3, 2, 4, 1] })],
];

/** Direct loops in float64: out, dx, dw for x, w, bias and dy. */
function direct(x: Float32Array, w: Float32Array, bias: Float32Array | null, dy: Float32Array, a: Conv2dArgs) {
  const { B, C, H, W, O, kH, kW, oH, oW, sH, sW, padTop, padLeft, dH, dW, G } = a;
  const Cg = C / G, Og = O / G;
  const out = new Float64Array(B * O * oH * oW), dx = new Float64Array(x.length), dw = new Float64Array(w.length);
  for (let b = 0; b < B; b++) for (let o = 0; o < O; o++) for (let oh = 0; oh < oH; oh++) for (let ow = 0; ow < oW; ow++) {
    const yi = ((b * O + o) * oH + oh) * oW + ow, g = dy[yi]!;
    let s = bias ? bias[o]! : 0;
    for (let c = 0; c < Cg; c++) for (let i = 0; i < kH; i++) for (let j = 0; j < kW; j++) {
      const ih = oh * sH - padTop + i * dH, iw = ow * sW - padLeft + j * dW;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      const xi = ((b * C + Math.floor(o / Og) * Cg + c) * H + ih) * W + iw, wi = ((o * Cg + c) * kH + i) * kW + j;
      s += x[xi]! * w[wi]!;
      dx[xi]! += g * w[wi]!;
      dw[wi]! += g * x[xi]!;
    }
    out[yi] = s;
  }
  return { out, dx, dw };
}

/** The three kernels of `be` on one case (dx and dweight start as garbage: the kernels write them). */
function run(be: Backend, x: Float32Array, w: Float32Array, bias: Float32Array | null, dy: Float32Array, a: Conv2dArgs) {
  const out = rand(dy.length), dx = rand(x.length), dw = rand(w.length);
  be.conv2dForward(out, x, w, bias, a);
  be.conv2dBackwardInput(dx, dy, w, a);
  be.conv2dBackwardWeight(dw, dy, x, a);
  return { out, dx, dw };
}

function inputs(a: Conv2dArgs) {
  return {
    x: rand(a.B * a.C * a.H * a.W), w: rand(a.O * (a.C / a.G) * a.kH * a.kW), bias: rand(a.O),
    dy: rand(a.B * a.O * a.oH * a.oW),
  };
}

describe("conv kernels: js reference against direct float64 loops", () => {
  for (const [name, a] of cases) {
    test(name, () => {
      const { x, w, bias, dy } = inputs(a);
      const want = direct(x, w, bias, dy, a);
      const got = run(jsBackend, x, w, bias, dy, a);
      close(got.out, want.out, 1e-4, 1e-4, "out");
      close(got.dx, want.dx, 1e-4, 1e-4, "dx");
      close(got.dw, want.dw, 2e-4, 1e-4, "dw");
    });
  }
});

describe(`conv kernels: ${active.name} against the js reference`, () => {
  for (const [name, a] of cases) {
    test(name, () => {
      const { x, w, bias, dy } = inputs(a);
      const want = run(jsBackend, x, w, bias, dy, a);
      const depth = (a.C / a.G) * a.kH * a.kW, positions = a.B * a.oH * a.oW;
      everyConfig(active, (tag) => {
        for (const b of [bias, null]) {
          const got = run(active, x, w, b, dy, a);
          const ref = b ? want.out : run(jsBackend, x, w, null, dy, a).out;
          close(got.out, ref, 2e-5 * Math.sqrt(depth), 1e-4, `${tag} out (bias ${b !== null})`);
          close(got.dx, want.dx, 2e-5 * Math.sqrt(a.O), 1e-4, `${tag} dx`);
          close(got.dw, want.dw, 2e-5 * Math.sqrt(positions), 1e-4, `${tag} dw`);
        }
      });
    });
  }
  test("native: the same bits on 1, 2 and 3 threads, every instruction set", { skip: active.name === "native" ? false : "runs in the native pass only" }, () => {
    const threads = getNumThreads();
    try {
      for (const [name, a] of cases) {
        const { x, w, bias, dy } = inputs(a);
        everyConfig(active, (tag) => {
          const t = getNumThreads();
          setNumThreads(1);
          const one = run(active, x, w, bias, dy, a);
          setNumThreads(t);
          const many = run(active, x, w, bias, dy, a);
          same(many.out, one.out, `${name} ${tag} out`);
          same(many.dx, one.dx, `${name} ${tag} dx`);
          same(many.dw, one.dw, `${name} ${tag} dw`);
        });
      }
    } finally {
      setNumThreads(threads);
    }
  });
  test("native: arrays too short, bad groups or sizes are a RangeError, float64 a TypeError", { skip: active.name === "native" ? false : "runs in the native pass only" }, () => {
    const a = args(2, 4, 5, 5, 6, 3, 3, { p: [1, 1, 1, 1] });
    const { x, w, bias, dy } = inputs(a);
    const out = new Float32Array(dy.length), dx = new Float32Array(x.length), dw = new Float32Array(w.length);
    assert.throws(() => active.conv2dForward(out.subarray(1), x, w, bias, a), RangeError);
    assert.throws(() => active.conv2dForward(out, x.subarray(1), w, bias, a), RangeError);
    assert.throws(() => active.conv2dForward(out, x, w, bias.subarray(1), a), RangeError);
    assert.throws(() => active.conv2dBackwardInput(dx, dy.subarray(1), w, a), RangeError);
    assert.throws(() => active.conv2dBackwardWeight(dw.subarray(1), dy, x, a), RangeError);
    assert.throws(() => active.conv2dForward(out, x, w, bias, { ...a, G: 3 }), RangeError);
    assert.throws(() => active.conv2dForward(out, x, w, bias, { ...a, sH: 0 }), RangeError);
    assert.throws(() => active.conv2dForward(out, x, w, bias, { ...a, kW: 0 }), RangeError);
    assert.throws(() => active.conv2dForward(out, x, w, bias, { ...a, padTop: -1 }), RangeError);
    assert.throws(() => active.conv2dForward(out, new Float64Array(x.length), w, bias, a), TypeError);
  });
  test("no images: out untouched, dx empty, dweight zero", () => {
    const a = args(0, 3, 5, 5, 4, 3, 3);
    const dw = new Float32Array(4 * 3 * 9).fill(7);
    active.conv2dForward(new Float32Array(0), new Float32Array(0), rand(dw.length), null, a);
    active.conv2dBackwardInput(new Float32Array(0), new Float32Array(0), rand(dw.length), a);
    active.conv2dBackwardWeight(dw, new Float32Array(0), new Float32Array(0), a);
    assert.ok(dw.every((v) => v === 0));
  });
});

const wasmPass = active.name === "wasm";
describe("conv kernels: wasm split between threads equals one thread bit for bit", { skip: wasmPass ? false : "runs in the wasm pass only" }, () => {
  const st = wasmPass ? createWasmBackendSync({ threads: 1 }) : null;
  const mt = wasmPass ? createWasmBackendSync({ threads: 3, splitAll: true }) : null;
  after(() => mt?.dispose());
  for (const [name, a] of [...cases, ["3 parts over one image (column and channel chunks)", args(1, 4, 6, 7, 5, 3, 3, { p: [1, 1, 1, 1] })] as const]) {
    test(name, () => {
      assert.ok(st && mt && mt.threads === 3);
      const { x, w, bias, dy } = inputs(a);
      const one = run(st, x, w, bias, dy, a), split = run(mt, x, w, bias, dy, a);
      same(split.out, one.out, "out");
      same(split.dx, one.dx, "dx");
      same(split.dw, one.dw, "dw");
    });
  }
});
