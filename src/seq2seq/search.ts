/**
 * Decoding for encoder–decoder models: batched greedy search and beam search, both through the
 * decoder's KV cache (each step runs the decoder on the newest token only).
 *
 * Beam search keeps `beam` hypotheses per source; a hypothesis that emits </s> is finished and
 * scored by its log-probability divided by the GNMT length penalty ((5 + n) / 6)^alpha (n tokens,
 * </s> included; alpha = lengthPenalty, 0 = raw log-probability). A source is done when it has
 * `beam` finished hypotheses (fairseq's rule), or at maxLen.
 *
 * Both are written once as read steps (tensor/read-steps.ts), so a model on a device decodes there
 * (`greedySearchAsync`, `beamSearchAsync`): greedy search argmaxes each step's ids [B] where the
 * model is and reads them back every 1, 2, 4, then 8 steps; beam search reads back each step's 2K
 * best log-probabilities and tokens of each hypothesis (`topk` where the model is) in one read and
 * keeps its hypotheses on the host.
 *
 * ```ts
 * const outs = beamSearch(model, src, { bosId: 1, eosId: 2, beam: 4, maxLen: 80 }); // ids per source
 * const fast = greedySearch(model, src, { bosId: 1, eosId: 2, maxLen: 80 });
 * const same = await greedySearchAsync(deviceModel, src, { bosId: 1, eosId: 2, maxLen: 80 }); // reads every few steps
 * const beams = await beamSearchAsync(deviceModel, src, { bosId: 1, eosId: 2, beam: 4, maxLen: 80 }); // one read per step
 * ```
 */
import { noGrad, noGradAsync } from "../autograd/graph.js";
import type { DecoderCache } from "../nn/kv-cache.js";
import { maskedFill } from "../ops/elementwise.js";
import { argmax } from "../ops/reduce.js";
import { indexSelect, reshape } from "../ops/shape.js";
import { logSoftmax } from "../ops/softmax.js";
import { topk } from "../ops/topk.js";
import { TOPK_MAX } from "../backend/backend.js";
import { topKRows } from "../backend/js/topk.js";
import { ValueError } from "../tensor/errors.js";
import { greedyReads, runReadSteps, runReadStepsAsync, type ReadSteps } from "../tensor/read-steps.js";
import { Tensor } from "../tensor/tensor.js";

/** What search needs of a model (Seq2SeqTransformer has it). */
export interface Seq2SeqModel {
  paddingMask(ids: Tensor): Tensor;
  encode(src: Tensor, srcPad: Tensor): Tensor;
  decode(tgt: Tensor, memory: Tensor, srcPad: Tensor, opts: { cache?: DecoderCache; offset?: number }): Tensor;
  readonly decoder: { createCache(): DecoderCache };
  readonly config: { maxLen: number };
}

export interface SearchOptions {
  bosId: number;
  eosId: number;
  /** Most tokens to generate per source, </s> included (default: the model's maxLen). */
  maxLen?: number;
  /** Token ids never to generate (e.g. <pad>, <s>). */
  banned?: readonly number[];
  /** Per-source caps (each <= maxLen), so that a source's output does not depend on its batch. */
  maxLens?: readonly number[];
}

export interface BeamOptions extends SearchOptions {
  /** Hypotheses kept per source (default 4; 1 is greedy). */
  beam?: number;
  /** GNMT length penalty exponent alpha (default 0.6). */
  lengthPenalty?: number;
}

function checkSearch(op: string, model: Seq2SeqModel, src: Tensor, o: SearchOptions): number {
  if (src.dtype !== "int32" || src.rank !== 2) throw new ValueError(op, "src", "int32 ids [B, S]", `${src.dtype} [${src.shape.join(", ")}]`);
  const max = o.maxLen ?? model.config.maxLen;
  if (!Number.isInteger(max) || max < 1 || max > model.config.maxLen) throw new ValueError(op, "maxLen", `an integer in [1, ${model.config.maxLen}]`, String(o.maxLen));
  if (o.maxLens !== undefined && (o.maxLens.length !== src.shape[0] || o.maxLens.some((m) => !Number.isInteger(m) || m < 1 || m > max))) {
    throw new ValueError(op, "maxLens", `${src.shape[0]} integers in [1, ${max}] (one per source)`, `[${o.maxLens.slice(0, 8).join(", ")}${o.maxLens.length > 8 ? ", …" : ""}] (${o.maxLens.length})`);
  }
  return max;
}

/**
 * Greedy decoding of src ids [B, S] as read steps (tensor/read-steps.ts): yields the next ids [B]
 * of one or more steps (int32 tensors: the first argmax of the log-probabilities, banned tokens
 * at -Infinity; on the model's device or the host) and is given them back read; returns the token
 * ids per source, without </s>. Each step's ids feed the next step where they are, so on a device
 * several steps go by between reads (`stepsPerRead`: 1, 2, 4, then 8), the same ids as a read
 * every step. Run it with recording off (`greedySearch`, `greedySearchAsync`).
 */
export function* greedySteps(model: Seq2SeqModel, src: Tensor, o: SearchOptions): ReadSteps<number[][]> {
  const maxLen = checkSearch("greedySearch", model, src, o);
  const B = src.shape[0]!;
  const srcPad = model.paddingMask(src);
  const memory = model.encode(src, srcPad); // [B, S, E]
  const cache = model.decoder.createCache();
  const logProbs = nextLogProbs("greedySearch", o.banned ?? []);
  let tok: Tensor = new Tensor(new Int32Array(B).fill(o.bosId), [B, 1], "int32");
  return yield* greedyReads(B, maxLen, o.eosId, (t) => {
    const lp = logProbs(model.decode(tok, memory, srcPad, { cache, offset: t })); // [B, 1, V] -> [B, V]
    const next = argmax(lp, -1); // [B]
    tok = reshape(next, [B, 1]);
    return next;
  }, o.maxLens);
}

/** The banned tokens as a bool mask [V] (true where banned). */
function bannedMask(op: string, banned: readonly number[], V: number): Tensor {
  const m = new Uint8Array(V);
  for (const b of banned) {
    if (!Number.isInteger(b) || b < 0 || b >= V) throw new ValueError(op, "banned", `token ids in [0, ${V})`, `[${banned.join(", ")}]`);
    m[b] = 1;
  }
  return new Tensor(m, [V], "bool");
}

/**
 * A search's next-token log-probabilities: logits [N, 1, V] -> [N, V], the banned tokens at
 * -Infinity (their mask made at the first step, when V is known, and kept for the others).
 */
function nextLogProbs(op: string, banned: readonly number[]): (logits: Tensor) => Tensor {
  let mask: Tensor | null = null; // [V], true where banned
  return (logits) => {
    const lp = logSoftmax(reshape(logits, [logits.shape[0]!, -1]), -1); // [N, V]
    return banned.length ? maskedFill(lp, mask ??= bannedMask(op, banned, lp.shape[1]!), -Infinity) : lp;
  };
}

/** Greedy decoding of src ids [B, S] (padding = the model's padId) by a model on the host: token ids per source, without </s>. */
export function greedySearch(model: Seq2SeqModel, src: Tensor, o: SearchOptions): number[][] {
  checkSearch("greedySearch", model, src, o);
  return noGrad(() => runReadSteps(greedySteps(model, src, o)));
}

/**
 * `greedySearch` of a model on a device (or the host), decoded there: each step's ids [B] come
 * back in one batched read, nothing else.
 */
export function greedySearchAsync(model: Seq2SeqModel, src: Tensor, o: SearchOptions): Promise<number[][]> {
  checkSearch("greedySearchAsync", model, src, o);
  return noGradAsync(() => runReadStepsAsync(greedySteps(model, src, o)));
}

interface Hyp {
  tokens: number[];
  /** Sum of log-probabilities. */
  logp: number;
}

const penalty = (n: number, alpha: number): number => Math.pow((5 + n) / 6, alpha);

/** The beam width and length penalty of `o`, checked. */
function checkBeam(op: string, model: Seq2SeqModel, src: Tensor, o: BeamOptions): { maxLen: number; K: number; alpha: number } {
  const maxLen = checkSearch(op, model, src, o);
  const K = o.beam ?? 4, alpha = o.lengthPenalty ?? 0.6;
  if (!Number.isInteger(K) || K < 1) throw new ValueError(op, "beam", "a positive integer", String(o.beam));
  if (!(alpha >= 0)) throw new ValueError(op, "lengthPenalty", "a number >= 0", String(o.lengthPenalty));
  return { maxLen, K, alpha };
}

/** Beam search over src ids [B, S]: the best hypothesis per source, token ids without </s> (a model on the host). */
export function beamSearch(model: Seq2SeqModel, src: Tensor, o: BeamOptions): number[][] {
  checkBeam("beamSearch", model, src, o);
  return noGrad(() => runReadSteps(beamSteps(model, src, o)));
}

/** Beam search on a model on a device (or the host): each step's 2K best log-probabilities and tokens a hypothesis [N, 2K] come back in one read. */
export function beamSearchAsync(model: Seq2SeqModel, src: Tensor, o: BeamOptions): Promise<number[][]> {
  checkBeam("beamSearchAsync", model, src, o);
  return noGradAsync(() => runReadStepsAsync(beamSteps(model, src, o)));
}

/**
 * Beam search over src ids [B, S] as read steps (tensor/read-steps.ts): yields each step's 2K best
 * log-probabilities of each of the N live hypotheses and their tokens ([N, 2K] each: `topk` of the
 * log-probabilities, banned tokens at -Infinity, computed where the model is) and is given them
 * back read; returns the best hypothesis per source, token ids without </s>. The hypotheses'
 * bookkeeping runs on the host; the cache, memory and padding rows follow the survivors where they
 * are. Beam 1 is greedySteps. Run it with recording off (`beamSearch`, `beamSearchAsync`).
 */
export function* beamSteps(model: Seq2SeqModel, src: Tensor, o: BeamOptions): ReadSteps<number[][]> {
  const { maxLen, K, alpha } = checkBeam("beamSearch", model, src, o);
  if (K === 1) return yield* greedySteps(model, src, o);
  const logProbs = nextLogProbs("beamSearch", o.banned ?? []);
  const B = src.shape[0]!;
  const srcPad0 = model.paddingMask(src);
  const memory0 = model.encode(src, srcPad0); // [B, S, E]
  // rows of live hypotheses: source b's beams are rows alive[b] (start: one row per source)
  let rowsOf: number[][] = Array.from({ length: B }, (_, b) => [b]);
  let live: Hyp[][] = Array.from({ length: B }, () => [{ tokens: [], logp: 0 }]);
  let memory = memory0, srcPad = srcPad0;
  let tok = new Int32Array(B).fill(o.bosId);
  const finished: Hyp[][] = Array.from({ length: B }, () => []);
  const cache = model.decoder.createCache();
  let rowSource = Array.from({ length: B }, (_, b) => b); // source of each memory row
  for (let t = 0; t < maxLen; t++) {
    const N = tok.length;
    const lpT = logProbs(model.decode(new Tensor(tok, [N, 1], "int32"), memory, srcPad, { cache, offset: t })); // [N, 1, V] -> [N, V]
    // each row's 2K best tokens (topk: where the model is, so a device sends back 2K a row, not V)
    const V = lpT.shape[1]!, C = Math.min(2 * K, V);
    let val: ArrayLike<number>, idx: ArrayLike<number>; // [N, C] each
    if (lpT.device === null || C <= TOPK_MAX) {
      const best = topk(lpT, C);
      [val, idx] = (yield [best.values, best.indices]) as [ArrayLike<number>, ArrayLike<number>];
    } else {
      // a beam past a device's top-k: the rows read back whole, selected here in topk's order
      const [lp] = yield [lpT];
      const v = new Float32Array(N * C), ix = new Int32Array(N * C);
      topKRows(v, ix, lp!, N, V, C);
      [val, idx] = [v, ix];
    }
    const keepRows: number[] = [], nextTok: number[] = [], nextRowsOf: number[][] = [], nextLive: Hyp[][] = [];
    for (let b = 0; b < B; b++) {
      const rows = rowsOf[b]!, hyps = live[b]!, last = (o.maxLens?.[b] ?? maxLen) - 1;
      nextRowsOf.push([]);
      nextLive.push([]);
      if (rows.length === 0) continue;
      // the 2K best extensions of this source's live hypotheses: among its rows' 2K best tokens
      // (in row order, each row's in topk's order: on equal scores the earlier row, then the lower token)
      const cand: { r: number; h: number; v: number; s: number }[] = [];
      rows.forEach((r, h) => {
        const base = hyps[h]!.logp;
        for (let c = 0; c < C; c++) cand.push({ r, h, v: idx[r * C + c]!, s: base + val[r * C + c]! });
      });
      cand.sort((x, y) => y.s - x.s);
      const cont: { r: number; v: number; hyp: Hyp }[] = [];
      for (const [i, c] of cand.slice(0, 2 * K).entries()) {
        if (!Number.isFinite(c.s)) break;
        const tokens = [...hyps[c.h]!.tokens, c.v];
        // an ending among the K best finishes a hypothesis (fairseq); lower ones are dropped
        if (c.v === o.eosId) {
          if (i < K) finished[b]!.push({ tokens: tokens.slice(0, -1), logp: c.s });
        } else if (t === last) {
          if (finished[b]!.length < K) finished[b]!.push({ tokens, logp: c.s });
        } else if (cont.length < K) cont.push({ r: c.r, v: c.v, hyp: { tokens, logp: c.s } });
      }
      // done when K hypotheses are finished (fairseq's stopping rule), or at the source's cap
      if (finished[b]!.length >= K || t === last) continue;
      for (const c of cont) {
        nextRowsOf[b]!.push(keepRows.length);
        keepRows.push(c.r);
        nextTok.push(c.v);
        nextLive[b]!.push(c.hyp);
      }
    }
    if (keepRows.length === 0) break;
    // keep the surviving rows: cache, memory and padding follow their hypotheses
    const srcRows = keepRows.map((r) => rowSource[r]!);
    memory = indexSelect(memory0, 0, srcRows);
    cache.reorder(keepRows, memory);
    srcPad = indexSelect(srcPad0, 0, srcRows);
    rowSource = srcRows;
    rowsOf = nextRowsOf;
    live = nextLive;
    tok = Int32Array.from(nextTok);
  }
  return finished.map((fin, b) => {
    const pool = fin.length ? fin : live[b]!;
    let best = pool[0]!, bs = -Infinity;
    for (const h of pool) {
      const s = h.logp / penalty(h.tokens.length + 1, alpha);
      if (s > bs) { bs = s; best = h; }
    }
    return best ? best.tokens : [];
  });
}
