import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { noGrad } from "../../src/autograd/graph.js";
import { GRUCell, LSTMCell } from "../../src/nn/rnn-cell.js";
import { GRU, LSTM, type RNNOptions } from "../../src/nn/rnn.js";
import { concat, reshape, slice, squeeze, stack, transpose } from "../../src/ops/shape.js";
import { DTypeError, ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";
import { assertClose, assertGrad, assertThrowsMsg, r64 } from "../helpers.js";
import { float64Params } from "./float64-module.js";

/** LSTM / GRU whose parameters are switched to float64 copies (returned for gradcheck). */
class LSTM64 extends LSTM {
  float64(): Tensor[] {
    return this.namedParameters().map(([n, p]) => {
      const t = new Tensor(Float64Array.from(p.data), p.shape, "float64");
      this.setParameter(n, t);
      return t;
    });
  }
}
class GRU64 extends GRU {
  float64(): Tensor[] {
    return this.namedParameters().map(([n, p]) => {
      const t = new Tensor(Float64Array.from(p.data), p.shape, "float64");
      this.setParameter(n, t);
      return t;
    });
  }
}

const keysOf = (layers: number, bidir: boolean, bias: boolean): string[] => {
  const r: string[] = [];
  for (let l = 0; l < layers; l++) {
    for (const s of bidir ? ["", "_reverse"] : [""]) {
      r.push(`weight_ih_l${l}${s}`, `weight_hh_l${l}${s}`);
      if (bias) r.push(`bias_ih_l${l}${s}`, `bias_hh_l${l}${s}`);
    }
  }
  return r;
};

/** The time steps of x [T, B, I] in reverse order. */
function reverseTime(x: Tensor): Tensor {
  const T = x.shape[0]!;
  const steps: Tensor[] = [];
  for (let t = T - 1; t >= 0; t--) steps.push(slice(x, 0, t, t + 1));
  return concat(steps, 0);
}

describe("LSTM and GRU", () => {
  test("state dict names and shapes as torch.nn (weight_ih_l{k}, ..., _reverse)", () => {
    const lstm = new LSTM(3, 4, { numLayers: 2, bidirectional: true });
    const sd = lstm.stateDict();
    assert.deepEqual(Object.keys(sd), keysOf(2, true, true));
    assert.deepEqual(sd.weight_ih_l0!.shape, [16, 3]);
    assert.deepEqual(sd.weight_hh_l0!.shape, [16, 4]);
    assert.deepEqual(sd.weight_ih_l1_reverse!.shape, [16, 8]);
    assert.deepEqual(sd.bias_hh_l1!.shape, [16]);
    const gru = new GRU(5, 2, { numLayers: 3, bias: false });
    assert.deepEqual(Object.keys(gru.stateDict()), keysOf(3, false, false));
    assert.deepEqual(gru.stateDict().weight_ih_l0!.shape, [6, 5]);
    assert.deepEqual(gru.stateDict().weight_ih_l2!.shape, [6, 2]);
    assert.deepEqual(Object.keys(new LSTMCell(3, 4).stateDict()), ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
    assert.deepEqual(new GRUCell(3, 4).stateDict().weight_hh!.shape, [12, 4]);
    assert.deepEqual(Object.keys(new GRUCell(3, 4, { bias: false }).stateDict()), ["weight_ih", "weight_hh"]);
  });

  test("parameters start U(-1/sqrt(H), 1/sqrt(H)) and are seeded by the generator", () => {
    const a = new LSTM(3, 16, { numLayers: 2, generator: new Generator(1) });
    const b = new LSTM(3, 16, { numLayers: 2, generator: new Generator(1) });
    for (const [n, p] of a.namedParameters()) {
      for (const v of p.data) assert.ok(Math.abs(v) <= 0.25, `${n} ${v}`);
      assert.deepEqual(p.data, b.stateDict()[n]!.data);
    }
    const spread = Math.max(...a.stateDict().weight_hh_l0!.data) - Math.min(...a.stateDict().weight_hh_l0!.data);
    assert.ok(spread > 0.4, `spread ${spread}`);
  });

  test("an LSTM layer is its LSTMCell looped over time; a GRU layer its GRUCell", () => {
    const g = new Generator(3);
    const x = randn([5, 2, 3], { generator: g }); // [T, B, I]
    const h0 = randn([1, 2, 4], { generator: g }), c0 = randn([1, 2, 4], { generator: g });
    const lstm = new LSTM(3, 4, { generator: g });
    const cell = new LSTMCell(3, 4);
    const sd = lstm.stateDict();
    cell.loadStateDict({ weight_ih: sd.weight_ih_l0!, weight_hh: sd.weight_hh_l0!, bias_ih: sd.bias_ih_l0!, bias_hh: sd.bias_hh_l0! });
    const r = lstm.forward(x, [h0, c0]);
    let s = { h: squeeze(h0, 0), c: squeeze(c0, 0) };
    const hs: Tensor[] = [];
    for (let t = 0; t < 5; t++) {
      s = cell.forward(reshape(slice(x, 0, t, t + 1), [2, 3]), [s.h, s.c]);
      hs.push(s.h);
    }
    assertClose(r.output.data, stack(hs, 0).data, 1e-6);
    assertClose(r.hN.data, s.h.data, 1e-6);
    assertClose(r.cN.data, s.c.data, 1e-6);

    const gru = new GRU(3, 4, { generator: g });
    const gcell = new GRUCell(3, 4);
    const gsd = gru.stateDict();
    gcell.loadStateDict({ weight_ih: gsd.weight_ih_l0!, weight_hh: gsd.weight_hh_l0!, bias_ih: gsd.bias_ih_l0!, bias_hh: gsd.bias_hh_l0! });
    const gr = gru.forward(x);
    let h: Tensor | null = null;
    const gh: Tensor[] = [];
    for (let t = 0; t < 5; t++) {
      h = gcell.forward(reshape(slice(x, 0, t, t + 1), [2, 3]), h);
      gh.push(h);
    }
    assertClose(gr.output.data, stack(gh, 0).data, 1e-6);
    assertClose(gr.hN.data, h!.data, 1e-6);
  });

  test("GRU step by hand: r, z, n = tanh(W_in x + b_in + r*(W_hn h + b_hn)), h' = (1-z)*n + z*h", () => {
    const cell = new GRUCell(1, 1);
    cell.loadStateDict({
      weight_ih: new Tensor(Float32Array.from([0.5, -0.25, 1]), [3, 1], "float32"),
      weight_hh: new Tensor(Float32Array.from([0.1, 0.2, 0.3]), [3, 1], "float32"),
      bias_ih: new Tensor(Float32Array.from([0.01, 0.02, 0.03]), [3], "float32"),
      bias_hh: new Tensor(Float32Array.from([-0.01, -0.02, -0.5]), [3], "float32"),
    });
    const x = 0.7, h = -0.4;
    const sig = (v: number): number => 1 / (1 + Math.exp(-v));
    const r = sig(0.5 * x + 0.01 + 0.1 * h - 0.01);
    const z = sig(-0.25 * x + 0.02 + 0.2 * h - 0.02);
    const n = Math.tanh(1 * x + 0.03 + r * (0.3 * h - 0.5));
    const out = cell.forward(new Tensor(Float32Array.from([x]), [1], "float32"), new Tensor(Float32Array.from([h]), [1], "float32"));
    assert.deepEqual(out.shape, [1]);
    assertClose(out.data, [(1 - z) * n + z * h], 1e-6);
  });

  test("batchFirst is the transposed layout (hN stays [L*D, B, H]); unbatched is a batch of one", () => {
    for (const Cls of [LSTM, GRU]) {
      const g = new Generator(5);
      const seq = new Cls(3, 4, { numLayers: 2, bidirectional: true, generator: new Generator(8) });
      const bf = new Cls(3, 4, { numLayers: 2, bidirectional: true, batchFirst: true, generator: new Generator(8) });
      const x = randn([6, 2, 3], { generator: g }); // [T, B, I]
      const a = seq.forward(x), b = bf.forward(transpose(x, 0, 1));
      assert.deepEqual(b.output.shape, [2, 6, 8]);
      assert.deepEqual(b.hN.shape, [4, 2, 4]);
      assertClose(transpose(b.output, 0, 1).data, a.output.data, 1e-6);
      assertClose(b.hN.data, a.hN.data, 1e-6);
      const x1 = slice(x, 1, 1, 2); // [T, 1, I]
      const one = seq.forward(x1), un = seq.forward(squeeze(x1, 1));
      assert.deepEqual(un.output.shape, [6, 8]);
      assert.deepEqual(un.hN.shape, [4, 4]);
      assertClose(un.output.data, one.output.data, 1e-6);
      assertClose(un.hN.data, one.hN.data, 1e-6);
    }
    const lstm = new LSTM(3, 4, { batchFirst: true });
    const h0 = randn([1, 4]), c0 = randn([1, 4]);
    const r = lstm.forward(randn([5, 3]), [h0, c0]); // unbatched ignores batchFirst, as PyTorch
    assert.deepEqual([r.output.shape, r.hN.shape, r.cN.shape], [[5, 4], [1, 4], [1, 4]]);
  });

  test("the reverse direction runs the reversed sequence with the _reverse weights", () => {
    const g = new Generator(9);
    const bi = new LSTM(3, 4, { bidirectional: true, generator: g });
    const fwd = new LSTM(3, 4);
    const sd = bi.stateDict();
    fwd.loadStateDict({ weight_ih_l0: sd.weight_ih_l0_reverse!, weight_hh_l0: sd.weight_hh_l0_reverse!, bias_ih_l0: sd.bias_ih_l0_reverse!, bias_hh_l0: sd.bias_hh_l0_reverse! });
    const x = randn([5, 2, 3], { generator: g });
    const r = bi.forward(x);
    const rev = fwd.forward(reverseTime(x));
    assertClose(slice(r.output, -1, 4, 8).data, reverseTime(rev.output).data, 1e-6);
    assertClose(slice(r.hN, 0, 1, 2).data, rev.hN.data, 1e-6);
    assertClose(slice(r.cN, 0, 1, 2).data, rev.cN.data, 1e-6);
  });

  test("dropout acts between layers in training only", () => {
    const opts: RNNOptions = { numLayers: 2, dropout: 0.5, generator: new Generator(2) };
    const m = new GRU(3, 4, opts);
    const x = randn([4, 2, 3]);
    const a = noGrad(() => m.forward(x).output), b = noGrad(() => m.forward(x).output);
    assert.notDeepEqual(a.data, b.data);
    m.eval();
    const c = noGrad(() => m.forward(x).output), d = noGrad(() => m.forward(x).output);
    assert.deepEqual(c.data, d.data);
    const single = new GRU(3, 4, { dropout: 0.5, generator: new Generator(2) }); // nothing between layers
    assert.deepEqual(single.forward(x).output.data, single.forward(x).output.data);
  });

  test("float64 gradcheck: 2-layer bidirectional LSTM with h0, c0 (input, states, every parameter)", () => {
    const m = new LSTM64(2, 2, { numLayers: 2, bidirectional: true, generator: new Generator(4) });
    const ps = m.float64();
    const x = r64([3, 2, 2]), h0 = r64([4, 2, 2], 0.5), c0 = r64([4, 2, 2], 0.5);
    assertGrad((xx, hh, cc) => {
      const r = m.forward(xx!, [hh!, cc!]);
      return [r.output, r.hN, r.cN];
    }, [x, h0, c0]);
    assertGrad(() => {
      const r = m.forward(x, [h0, c0]);
      return [r.output, r.hN, r.cN];
    }, ps);
  });

  test("float64 gradcheck: 2-layer GRU, batchFirst and unbatched", () => {
    const m = new GRU64(3, 2, { numLayers: 2, batchFirst: true, generator: new Generator(6) });
    const ps = m.float64();
    const x = r64([2, 3, 3]), h0 = r64([2, 2, 2], 0.5);
    assertGrad((xx, hh) => {
      const r = m.forward(xx!, hh!);
      return [r.output, r.hN];
    }, [x, h0, ...ps]);
    const xu = r64([4, 3]);
    assertGrad((xx) => {
      const r = m.forward(xx!);
      return [r.output, r.hN];
    }, [xu, ...ps]);
  });

  test("float64 gradcheck: LSTMCell and GRUCell", () => {
    const lc = new LSTMCell(3, 2, { generator: new Generator(1) });
    const lp = float64Params(lc);
    assertGrad((x, h, c) => {
      const r = lc.forward(x!, [h!, c!]);
      return [r.h, r.c];
    }, [r64([2, 3]), r64([2, 2]), r64([2, 2]), ...lp]);
    const gc = new GRUCell(3, 2, { generator: new Generator(1) });
    const gp = float64Params(gc);
    assertGrad((x, h) => gc.forward(x!, h!), [r64([3]), r64([2]), ...gp]);
  });

  test("errors name the module, the argument, what was expected and what came", () => {
    const lstm = new LSTM(3, 4, { numLayers: 2 });
    assertThrowsMsg(() => lstm.forward(randn([2, 3, 5, 3])), ShapeError, "LSTM: input expected [T, B, 3] or [T, 3], got [2, 3, 5, 3]");
    assertThrowsMsg(() => lstm.forward(randn([5, 2, 4])), ShapeError, "LSTM: input expected [T, B, 3] or [T, 3], got [5, 2, 4]");
    assertThrowsMsg(() => new GRU(3, 4, { batchFirst: true }).forward(randn([2, 5])), ShapeError, "GRU: input expected [B, T, 3] or [T, 3], got [2, 5]");
    assertThrowsMsg(() => lstm.forward(randn([5, 2, 3]), [randn([1, 2, 4]), randn([2, 2, 4])]), ShapeError, "LSTM: h0 expected [2, 2, 4], got [1, 2, 4]");
    assertThrowsMsg(() => lstm.forward(randn([5, 3]), [randn([2, 4]), randn([2, 1, 4])]), ShapeError, "LSTM: c0 expected [2, 4], got [2, 1, 4]");
    assertThrowsMsg(() => lstm.forward(randn([5, 2, 3]), [randn([2, 2, 4], { dtype: "float64" }), randn([2, 2, 4])]), DTypeError, "LSTM: h0 expected float32 (the dtype of input), got float64");
    assertThrowsMsg(() => lstm.forward(new Tensor(new Int32Array(6), [2, 1, 3], "int32")), DTypeError, "LSTM: input expected float32 or float64, got int32");
    assertThrowsMsg(() => lstm.forward(randn([0, 2, 3])), ShapeError, "LSTM: input expected at least one time step, got [0, 2, 3]");
    assertThrowsMsg(() => new GRU(3, 4).forward(randn([5, 2, 3]), randn([1, 3, 4])), ShapeError, "GRU: h0 expected [1, 2, 4], got [1, 3, 4]");
    assertThrowsMsg(() => new LSTM(0, 4), ValueError, "LSTM: inputSize expected a positive integer, got 0");
    assertThrowsMsg(() => new GRU(3, 2.5), ValueError, "GRU: hiddenSize expected a positive integer, got 2.5");
    assertThrowsMsg(() => new LSTM(3, 4, { numLayers: 0 }), ValueError, "LSTM: numLayers expected a positive integer, got 0");
    assertThrowsMsg(() => new GRU(3, 4, { dropout: 1 }), ValueError, "GRU: dropout expected a probability in [0, 1), got 1");
    assertThrowsMsg(() => new LSTMCell(3, 4).forward(randn([2, 4])), ShapeError, "LSTMCell: input expected [B, 3] or [3], got [2, 4]");
    assertThrowsMsg(() => new LSTMCell(3, 4).forward(randn([2, 3]), [randn([2, 4]), randn([4])]), ShapeError, "LSTMCell: c0 expected [2, 4], got [4]");
    assertThrowsMsg(() => new GRUCell(3, 4).forward(randn([3]), randn([1, 4])), ShapeError, "GRUCell: hx expected [4], got [1, 4]");
  });

  test("a PyTorch-shaped state dict round-trips; a wrong one is refused by name", () => {
    const a = new GRU(3, 4, { numLayers: 2, bidirectional: true, generator: new Generator(1) });
    const b = new GRU(3, 4, { numLayers: 2, bidirectional: true, generator: new Generator(2) });
    b.loadStateDict(a.stateDict());
    const x = randn([3, 1, 3]);
    assert.deepEqual(a.forward(x).output.data, b.forward(x).output.data);
    const sd = { ...a.stateDict() };
    delete sd.bias_hh_l1_reverse;
    assert.throws(() => b.loadStateDict(sd), /missing keys: bias_hh_l1_reverse/);
    assert.throws(() => new GRU(3, 5, { numLayers: 2, bidirectional: true }).loadStateDict(a.stateDict()), /weight_ih_l0 expected \[15, 3\], got \[12, 3\]/);
  });
});
