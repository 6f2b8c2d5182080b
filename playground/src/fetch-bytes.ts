/**
 * A file of the built site as bytes, with progress (the model workers' loader): the fetch is
 * streamed and `progress` hears about every 256 KiB and once at the end. An HTTP error is an
 * error naming the file, its status and the address.
 *
 * ```ts
 * const bytes = await fetchBytes(`${dir}model.safetensors`, "model.safetensors", (loaded, total) => …);
 * ```
 */

export type Progress = (loaded: number, total: number | null) => void;

export async function fetchBytes(url: string, file: string, progress: Progress): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${file}: HTTP ${r.status}${r.statusText ? ` ${r.statusText}` : ""} from ${url}`);
  const total = Number(r.headers.get("content-length")) || null;
  if (!r.body) {
    const b = new Uint8Array(await r.arrayBuffer());
    progress(b.length, b.length);
    return b;
  }
  const reader = r.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0, reported = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.length;
    if (n - reported >= 262_144) { progress(n, total); reported = n; }
  }
  progress(n, total ?? n);
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}
