/**
 * Paths inside the installed package (this file is 3 levels below the root in src/ and in dist/),
 * where the shipped models and datasets live.
 *
 * ```ts
 * packageRoot("models/translate-en-es"); // "/…/node_modules/qkv/models/translate-en-es"
 * ```
 */
export function packageRoot(rel: string): string {
  // not a literal or template first argument: bundlers (Vite) rewrite `new URL(literal, import.meta.url)`
  // into assets, and a template here would copy every file of the package root into a web build
  const u = new URL("../../../" + rel, import.meta.url);
  return u.protocol === "file:" ? decodeURIComponent(u.pathname) : u.href;
}
