/** rnn family: torch.nn.LSTM and torch.nn.GRU, parameters loaded by their state-dict names. */
import { GRU, LSTM } from "../../../src/nn/rnn.js";
import { cfg, type FamilyRunner } from "../fixture.js";

export const rnn: FamilyRunner = ({ c, inputs, params, load }) => {
  const kind = cfg(c, "module", "string");
  const opts = {
    numLayers: cfg(c, "num_layers", "number", 1),
    bias: cfg(c, "bias", "boolean", true),
    batchFirst: cfg(c, "batch_first", "boolean", false),
    dropout: cfg(c, "dropout", "number", 0),
    bidirectional: cfg(c, "bidirectional", "boolean", false),
  };
  const I = cfg(c, "input_size", "number"), H = cfg(c, "hidden_size", "number");
  const { input, h0, c0 } = inputs;
  if (!input) throw new Error("input expected");
  if (kind === "LSTM") {
    const m = new LSTM(I, H, opts);
    load(m, params);
    const own = Object.fromEntries(m.namedParameters());
    if ((h0 === undefined) !== (c0 === undefined)) throw new Error("h0 and c0 come together");
    const r = m.forward(input, h0 && c0 ? [h0, c0] : null);
    return { outputs: { output: r.output, h_n: r.hN, c_n: r.cN }, gradTarget: (n) => own[n] ?? inputs[n] };
  }
  if (kind === "GRU") {
    const m = new GRU(I, H, opts);
    load(m, params);
    const own = Object.fromEntries(m.namedParameters());
    const r = m.forward(input, h0 ?? null);
    return { outputs: { output: r.output, h_n: r.hN }, gradTarget: (n) => own[n] ?? inputs[n] };
  }
  throw new Error(`unknown rnn module ${kind}`);
};
