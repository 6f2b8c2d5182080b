/**
 * HTML text for the viz pages: escaping, and the skeleton every self-contained page shares
 * (doctype, UTF-8, the mobile viewport, the title, one inline style sheet). Browser-safe: strings
 * in, strings out.
 *
 * ```ts
 * const html = htmlPage("Attention", "body { margin: 0 }", [`<h1>${escapeXml(title)}</h1>`, "<p>...</p>"]);
 * ```
 */

/** Escapes text for XML/HTML content and attribute values (characters XML forbids become U+FFFD). */
export function escapeXml(s: string): string {
  let clean = "";
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    const forbidden = (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0xfffe || c === 0xffff;
    clean += forbidden ? "\ufffd" : ch;
  }
  return clean
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/**
 * A whole page: `title` (escaped here), the style sheet `css` inline, then the `body` lines.
 * `viewport: false` leaves out the viewport meta (the graph page is written without it).
 */
export function htmlPage(title: string, css: string, body: readonly string[], opts: { viewport?: boolean } = {}): string {
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    ...((opts.viewport ?? true) ? ['<meta name="viewport" content="width=device-width, initial-scale=1">'] : []),
    `<title>${escapeXml(title)}</title>`,
    `<style>\n${css}\n</style>`,
    "</head>",
    "<body>",
    ...body,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
