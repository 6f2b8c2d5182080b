/**
 * Self-attention on a sentence, one step at a time, with every intermediate matrix kept: token
 * embeddings plus sinusoidal positions, the Q, K, V projections split into heads, scores, scaling,
 * the causal and padding masks, softmax, the weighted sum, the heads concatenated and projected,
 * and the dot / scaled-dot / cosine weights side by side. The weights are those of a
 * `MultiheadAttention(8, heads, { batchFirst: true, bias: false })` made after `manualSeed(seed)`,
 * so the same call of the library gives the same output (test/browser/playground.test.ts checks
 * the page against it). Pure computation, no DOM: the page draws it (steps-view.ts).
 *
 * ```ts
 * const s = selfAttentionSteps({ text: "the cat sat on the mat", seed: 0, heads: 2, causal: true, padding: false });
 * s.weights[0]; // head 0's softmax weights [L, S]
 * ```
 */
import {
  cosineAttention, dotProductAttention, linear, matmul, maskedFill, mul, MultiheadAttention, manualSeed, noGrad,
  reshape, scaledDotProductAttention, sinusoidalPositionalEncoding, slice, softmax, Tensor, transpose, uniformAt,
} from "../../src/index.js";

/** Model width E of the walk-through: small enough to read every number. */
export const EMBED_DIM = 8;
/** Longest sentence shown, in tokens (words and punctuation marks). */
export const MAX_TOKENS = 24;
/** Padding tokens appended when the padding mask is on (as in a batch with a longer sentence). */
export const PAD_TOKENS = 2;
export const PAD = "<pad>";
/** Head counts the page offers (each divides EMBED_DIM). */
export const HEAD_CHOICES = [1, 2, 4] as const;

export interface StepsInput {
  text: string;
  seed: number;
  heads: number;
  /** Query i may attend keys j <= i only. */
  causal: boolean;
  /** Append PAD_TOKENS padding tokens and mask them as keys. */
  padding: boolean;
}

/** One [rows, cols] row-major matrix. */
export interface Matrix {
  rows: number;
  cols: number;
  values: Float32Array;
}

export interface Steps {
  input: StepsInput;
  /** The tokens of the sentence, then any padding: N of them. */
  tokens: string[];
  /** Tokens cut off the end (over MAX_TOKENS). */
  dropped: number;
  E: number;
  H: number;
  D: number;
  /** Word embeddings [N, E], positions [N, E], their sum x [N, E]. */
  embeddings: Matrix;
  positions: Matrix;
  x: Matrix;
  /** The projection weights W_q, W_k, W_v, W_o [E, E] (rows: outputs). */
  wq: Matrix; wk: Matrix; wv: Matrix; wo: Matrix;
  /** Per head h: [N, D] projections. */
  q: Matrix[]; k: Matrix[]; v: Matrix[];
  /** Per head: q k^T [N, N], then / sqrt(D), then masked (-Infinity where a key is forbidden). */
  scores: Matrix[]; scaled: Matrix[]; masked: Matrix[];
  /** The mask [N, N]: 1 where query i may not attend key j. */
  mask: Matrix;
  /** Per head: softmax of the masked rows [N, N], and weights · V [N, D]. */
  weights: Matrix[]; headOutputs: Matrix[];
  /** The heads side by side [N, E], and the output projection of it [N, E]. */
  concat: Matrix; output: Matrix;
  /** The three scoring functions' weights per head [N, N] (same masks). */
  compare: { dot: Matrix[]; scaled: Matrix[]; cosine: Matrix[] };
}

/** Words and punctuation marks, in order. */
export function tokenize(text: string): string[] {
  return text.match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)*|[^\s\p{L}\p{N}]/gu) ?? [];
}

/** FNV-1a 32 of a word: the key of its embedding stream. */
function wordKey(word: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The embedding of a word [E]: N(0, 1) draws keyed by the word and the seed, so a word always gets the same vector. */
export function wordEmbedding(word: string, seed: number, E = EMBED_DIM): Float32Array {
  const out = new Float32Array(E), k0 = wordKey(word.toLowerCase()), k1 = seed >>> 0;
  for (let i = 0; i < E; i++) {
    const u1 = uniformAt(k0, k1, 2 * i), u2 = uniformAt(k0, k1, 2 * i + 1);
    out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

/** The tokens the walk-through uses for `input`: at most MAX_TOKENS of the text, then the padding. */
export function stepTokens(input: Pick<StepsInput, "text" | "padding">): { tokens: string[]; dropped: number } {
  const all = tokenize(input.text);
  const tokens = all.slice(0, MAX_TOKENS);
  if (input.padding) for (let i = 0; i < PAD_TOKENS; i++) tokens.push(PAD);
  return { tokens, dropped: all.length - Math.min(all.length, MAX_TOKENS) };
}

/** x = word embedding + position, [1, N, E]; with the parts. */
export function stepInputs(tokens: readonly string[], seed: number): { embeddings: Tensor; positions: Tensor; x: Tensor } {
  const N = tokens.length, E = EMBED_DIM;
  const emb = new Float32Array(N * E);
  tokens.forEach((t, i) => emb.set(wordEmbedding(t, seed), i * E));
  const embeddings = new Tensor(emb, [1, N, E], "float32");
  const positions = reshape(sinusoidalPositionalEncoding(N, E), [1, N, E]);
  const x = new Tensor(Float32Array.from(emb, (v, i) => v + positions.data[i]!), [1, N, E], "float32");
  return { embeddings, positions, x };
}

/** The attention module of the walk-through: its weights depend on the seed and the head count only. */
export function stepModule(seed: number, heads: number): MultiheadAttention {
  manualSeed(seed);
  return new MultiheadAttention(EMBED_DIM, heads, { batchFirst: true, bias: false });
}

/** The bool mask [N, N] (true = may not attend): causal above the diagonal, padding columns. */
export function stepMask(tokens: readonly string[], causal: boolean): Tensor {
  const N = tokens.length;
  const m = new Uint8Array(N * N);
  for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) m[i * N + j] = (causal && j > i) || tokens[j] === PAD ? 1 : 0;
  return new Tensor(m, [N, N], "bool");
}

const mat = (t: Tensor, rows: number, cols: number): Matrix => ({ rows, cols, values: Float32Array.from(t.data) });

/** Head h of [1, H, N, X] as an [N, X] matrix. */
function head(t: Tensor, h: number): Matrix {
  const [, , N, X] = t.shape as [number, number, number, number];
  return { rows: N, cols: X, values: Float32Array.from(t.data.subarray(h * N * X, (h + 1) * N * X)) };
}

/** Every step of multi-head self-attention on `input.text`; null when the text has no tokens. */
export function selfAttentionSteps(input: StepsInput): Steps | null {
  const { tokens, dropped } = stepTokens(input);
  if (tokens.length === 0 || tokens.every((t) => t === PAD)) return null;
  const E = EMBED_DIM, H = input.heads, D = E / H, N = tokens.length;
  return noGrad(() => {
    const mha = stepModule(input.seed, H);
    const w = mha.inProjWeight!; // [3E, E]
    const wq = slice(w, 0, 0, E), wk = slice(w, 0, E, 2 * E), wv = slice(w, 0, 2 * E, 3 * E); // [E, E] each
    const wo = mha.outProj.weight; // [E, E]
    const { embeddings, positions, x } = stepInputs(tokens, input.seed); // [1, N, E]
    const heads = (t: Tensor): Tensor => transpose(reshape(t, [1, N, H, D]), 1, 2); // [1, N, E] -> [1, H, N, D]
    const q = heads(linear(x, wq)), k = heads(linear(x, wk)), v = heads(linear(x, wv)); // [1, H, N, D]
    const scores = matmul(q, transpose(k, -2, -1)); // [1, H, N, N]
    const scaled = mul(scores, 1 / Math.sqrt(D)); // [1, H, N, N]
    const mask = stepMask(tokens, input.causal); // [N, N]
    const masked = maskedFill(scaled, mask, -Infinity); // [1, H, N, N]
    const weights = softmax(masked, -1); // [1, H, N, N]; a row with every key masked gives 0
    const headOut = matmul(weights, v); // [1, H, N, D]
    const concat = reshape(transpose(headOut, 1, 2), [1, N, E]); // [1, N, E]
    const output = linear(concat, wo); // [1, N, E]
    const opts = { attnMask: mask, needWeights: true };
    const w3 = {
      dot: dotProductAttention(q, k, v, opts).weights!,
      scaled: scaledDotProductAttention(q, k, v, opts).weights!,
      cosine: cosineAttention(q, k, v, opts).weights!,
    }; // [1, H, N, N] each
    const perHead = (t: Tensor): Matrix[] => Array.from({ length: H }, (_, h) => head(t, h));
    return {
      input: { ...input }, tokens, dropped, E, H, D,
      embeddings: mat(embeddings, N, E), positions: mat(positions, N, E), x: mat(x, N, E),
      wq: mat(wq, E, E), wk: mat(wk, E, E), wv: mat(wv, E, E), wo: mat(wo, E, E),
      q: perHead(q), k: perHead(k), v: perHead(v),
      scores: perHead(scores), scaled: perHead(scaled), masked: perHead(masked),
      mask: mat(mask, N, N),
      weights: perHead(weights), headOutputs: perHead(headOut),
      concat: mat(concat, N, E), output: mat(output, N, E),
      compare: { dot: perHead(w3.dot), scaled: perHead(w3.scaled), cosine: perHead(w3.cosine) },
    };
  });
}
