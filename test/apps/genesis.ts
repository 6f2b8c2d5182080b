/**
 * The parallel sentences of the text apps' tests: the first verses of Genesis in English (after the
 * World English Bible) and Spanish (Reina-Valera 1909), both in the public domain. Each test takes
 * the first n pairs it needs.
 *
 * ```ts
 * const [EN, ES] = genesisPairs(4); // string[4] each, EN[i] translated by ES[i]
 * ```
 */
const EN = ["In the beginning God created the heavens and the earth.", "The earth was formless and empty.", "God said, let there be light.",
  "And there was light.", "God saw the light, and saw that it was good.", "He called the light Day, and the darkness he called Night.",
  "There was evening and there was morning, the first day.", "God made the expanse, and divided the waters."];
const ES = ["En el principio crió Dios los cielos y la tierra.", "Y la tierra estaba desordenada y vacía.", "Y dijo Dios: Sea la luz.",
  "Y fué la luz.", "Y vió Dios que la luz era buena.", "Y llamó Dios á la luz Día, y á las tinieblas llamó Noche.",
  "Y fué la tarde y la mañana un día.", "E hizo Dios la expansión, y apartó las aguas."];

/** The first n English sentences and their Spanish translations (n at most 8). */
export function genesisPairs(n: number): [string[], string[]] {
  if (!(Number.isInteger(n) && n >= 1 && n <= EN.length)) throw new Error(`genesisPairs: n expected an integer in [1, ${EN.length}], got ${n}`);
  return [EN.slice(0, n), ES.slice(0, n)];
}
