/**
 * Byte-level text: the GPT-2 byte↔unicode table and the GPT-2 pre-tokenization regex, exactly as
 * Hugging Face `tokenizers` applies them in `pre_tokenizers.ByteLevel(use_regex=True)`.
 *
 * Every UTF-8 byte is shown as one printable character (printable Latin-1 bytes as themselves, the
 * others shifted to U+0100..U+0143: a space is `Ġ`, a newline `Ċ`), so a BPE vocabulary over these
 * characters covers any text with no unknown token.
 *
 * Letters and digits (`\p{L}`, `\p{N}`) are those of the JavaScript engine's Unicode version. Where
 * it is newer than `tokenizers`' Oniguruma tables, recently encoded characters split differently
 * (4,657 code points with Node 20.20's Unicode 17, such as CJK Extension J); every other code point
 * splits the same (checked over all of Unicode against `tokenizers` 0.23.2).
 *
 * ```ts
 * preTokenize(" Hello, world!"); // [" Hello", ",", " world", "!"]
 * bytesToSymbols(" dijo Dios");   // "ĠdijoĠDios"
 * symbolsToText("ĠfuÃ©");         // " fué"
 * ```
 */

/** The 256 byte symbols: `BYTE_TO_CHAR[b]` is the character that stands for byte `b` (GPT-2's `bytes_to_unicode`). */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const table: string[] = new Array<string>(256);
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let shifted = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(printable(b) ? b : 256 + shifted++);
  return Object.freeze(table);
})();

/** The inverse of `BYTE_TO_CHAR`: the byte a symbol character stands for. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/**
 * Whitespace as the `\s` of Oniguruma (the regex engine `tokenizers` uses): Unicode White_Space.
 * JavaScript's `\s` differs (it has U+FEFF and lacks U+0085), so the class is spelled out.
 */
const WS = "\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/**
 * GPT-2's pre-tokenization pattern, `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
 * with `\s` spelled as Oniguruma reads it. Global and unicode: use it with `matchAll` or reset `lastIndex`.
 */
export const GPT2_PATTERN = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`,
  "gu",
);

/**
 * Splits text into the pieces GPT-2's pattern matches, in order; their concatenation is the text
 * (any stretch the pattern skipped would be kept as a piece of its own, as `tokenizers` does, though the
 * pattern matches every character).
 */
export function preTokenize(text: string): string[] {
  const pieces: string[] = [];
  const re = new RegExp(GPT2_PATTERN); // own lastIndex: safe under reentrancy
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m.index > last) pieces.push(text.slice(last, m.index));
    pieces.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) pieces.push(text.slice(last));
  return pieces;
}

const utf8 = new TextEncoder();
const utf8Lossy = new TextDecoder("utf-8", { fatal: false });

/** The byte symbols of a string's UTF-8 bytes (lone surrogates are encoded as U+FFFD, as TextEncoder does). */
export function bytesToSymbols(text: string): string {
  const bytes = utf8.encode(text);
  let out = "";
  for (const b of bytes) out += BYTE_TO_CHAR[b]!;
  return out;
}

/**
 * The bytes of a sequence of byte-level tokens, the way `tokenizers`' ByteLevel decoder reads them:
 * a token made only of byte symbols gives their bytes; any other token (a special such as `<s>`
 * written with other characters) gives its own UTF-8 bytes.
 */
export function symbolsToBytes(tokens: Iterable<string>): Uint8Array {
  const out: number[] = [];
  for (const token of tokens) {
    const start = out.length;
    let ok = true;
    for (const ch of token) {
      const b = CHAR_TO_BYTE.get(ch);
      if (b === undefined) {
        ok = false;
        break;
      }
      out.push(b);
    }
    if (!ok) {
      out.length = start;
      for (const b of utf8.encode(token)) out.push(b);
    }
  }
  return Uint8Array.from(out);
}

/** Text from byte-level tokens; invalid UTF-8 becomes U+FFFD, as `String::from_utf8_lossy` does. */
export function symbolsToText(tokens: Iterable<string>): string {
  return utf8Lossy.decode(symbolsToBytes(tokens));
}
