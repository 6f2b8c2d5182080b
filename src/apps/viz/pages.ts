/**
 * Attention pages of the applications' models: a text model (Seq2SeqTransformer: encoder
 * self-attention, decoder self-attention and cross-attention while it writes its output, teacher
 * forced on that output; SpanExtractor: its encoder) and the dates demo's model. Tokens are the
 * model's own (subwords, characters).
 *
 * ```ts
 * const html = textModelPage(await loadTextModelDir("models/translate-en-es"), "In the beginning was the Word.");
 * ```
 */
import { DateModel } from "../dates/model.js";
import { makeBatch } from "../dates/batches.js";
import { noGrad } from "../../autograd/graph.js";
import { captureAttention } from "../../interpret/capture.js";
import { Seq2SeqTransformer } from "../../nn/seq2seq.js";
import { greedySearch } from "../../seq2seq/search.js";
import { ValueError } from "../../tensor/errors.js";
import { Tensor } from "../../tensor/tensor.js";
import type { CharVocab } from "../../data/dates.js";
import type { BpeTokenizer } from "../../text/bpe.js";
import { symbolsToText } from "../../text/byte-level.js";
import { attentionPageHtml } from "../../viz/attention-view.js";
import { pageDataFromCapture } from "../../viz/from-capture.js";
import type { TextModelBundle } from "../text/model-file.js";

/** One readable label per token id (special tokens as themselves, a leading space as "▁"). */
function tokenLabels(tok: BpeTokenizer, ids: readonly number[]): string[] {
  return ids.map((id) => {
    const sym = tok.idToToken(id);
    if (tok.specialTokens.includes(sym)) return sym;
    const s = symbolsToText(sym);
    return s.includes("\ufffd") ? sym : s.replace(/^ /, "▁");
  });
}

export interface TextPageOptions {
  /** The output to show (teacher forced); default: the model's greedy output. */
  target?: string;
  /** Cut a target longer than the model allows instead of refusing it (for outputs the model wrote). */
  clipTarget?: boolean;
  /** The option name that carried the text, for error messages (default "text"). */
  textArg?: string;
  op?: string;
}

/** The attention page of a text model on one input. */
export function textModelPage(bundle: TextModelBundle, text: string, o: TextPageOptions = {}): string {
  const op = o.op ?? "textModelPage", arg = o.textArg ?? "text";
  if (typeof text !== "string" || text.trim() === "") throw new ValueError(op, arg, "some text", JSON.stringify(text));
  const m = bundle.model, tok = bundle.tokenizer, max = m.config.maxLen;
  const ids = tok.encode(text);
  if (ids.length > max) throw new ValueError(op, arg, `at most ${max} tokens (the model's maxLen)`, `${ids.length} tokens`);
  m.eval();
  const src = new Tensor(Int32Array.from(ids), [1, ids.length], "int32");
  const srcLab = tokenLabels(tok, ids);
  if (!(m instanceof Seq2SeqTransformer)) {
    const { records } = noGrad(() => captureAttention(m, () => m.forward(src)));
    return attentionPageHtml(pageDataFromCapture(records, { title: `${bundle.task}: attention of the span model`, subtitle: text, labels: () => ({ rows: srcLab, cols: srcLab }) }));
  }
  let out: number[];
  if (o.target !== undefined) {
    out = tok.encode(o.target);
    if (o.clipTarget) out = out.slice(0, max - 1);
    if (out.length + 1 > max) throw new ValueError(op, arg === "--text" ? "--target" : "target", `at most ${max - 1} tokens (the model's maxLen)`, `${out.length} tokens`);
  } else {
    out = greedySearch(m, src, { bosId: tok.bosId, eosId: tok.eosId, maxLen: Math.min(max - 1, 2 * ids.length + 10) })[0]!;
  }
  const tgtIds = [tok.bosId, ...out];
  const tgt = new Tensor(Int32Array.from(tgtIds), [1, tgtIds.length], "int32");
  const tgtLab = tokenLabels(tok, tgtIds);
  const { records } = noGrad(() => captureAttention(m, () => m.forward(src, tgt)));
  return attentionPageHtml(pageDataFromCapture(records, {
    title: `${bundle.task}: attention while writing the output`,
    subtitle: `${text} → ${tok.decode(out).trim()}`,
    labels: (r) => r.name.startsWith("encoder.") ? { rows: srcLab, cols: srcLab } : r.kind === "cross" ? { rows: tgtLab, cols: srcLab } : { rows: tgtLab, cols: tgtLab },
  }));
}

/** The attention page of the dates model on one source, teacher forced on `output` (what the model wrote). */
export function datesPage(model: DateModel, vocab: CharVocab, source: string, output: string, o: { op?: string; textArg?: string } = {}): string {
  const max = model.config.maxLen ?? 64;
  const n = Array.from(source).length;
  if (n === 0 || n > max) throw new ValueError(o.op ?? "datesPage", o.textArg ?? "source", `1 to ${max} characters (the model's positions)`, `${n} characters`);
  const b = makeBatch([{ source, target: output }], vocab);
  model.eval();
  const { records } = noGrad(() => captureAttention(model, () => model.forward(b.src, b.srcPad, b.tgtIn)));
  model.train();
  const srcLab = Array.from(source), T = b.tgtIn.shape[1]!;
  const tgtLab = ["<bos>", ...Array.from(output)].slice(0, T);
  return attentionPageHtml(pageDataFromCapture(records, {
    title: "qkv demo: dates → ISO 8601, attention of every layer and head",
    subtitle: `${JSON.stringify(source)} → ${output}`,
    labels: (r) => r.name.startsWith("encoder.") ? { rows: srcLab, cols: srcLab } : r.kind === "cross" ? { rows: tgtLab, cols: srcLab } : { rows: tgtLab, cols: tgtLab },
  }));
}
