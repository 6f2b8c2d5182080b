/**
 * Builds data/debian-packages/debian-packages.json: a node-classification graph from Debian's
 * package lists (the `Packages` index that `apt-get update` keeps in /var/lib/apt/lists).
 *
 * ```sh
 * nice -n 19 npx tsx tools/data/debian-graph.ts [--packages FILE] [--out data/debian-packages/debian-packages.json]
 * ```
 *
 * - Nodes: the binary packages of 14 application sections (SECTIONS), then the largest connected
 *   component of the graph below, sorted by name.
 * - Edges (undirected, written once): A depends on B (Depends, Pre-Depends or Recommends; the first
 *   package of an alternative "a | b"; a virtual package when exactly one package provides it), both
 *   among the nodes.
 * - Labels: the package's section.
 * - Features: a bag of words of the one-line description (lowercased words of 3 or more
 *   characters), over the VOCAB words that occur in the most descriptions. Package names are not
 *   features.
 * - Split (fixed, seeded): 20 training nodes per class, 500 validation nodes, every other node
 *   for testing (the semi-supervised setting of Planetoid / GAT's citation benchmarks).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Generator } from "../../src/tensor/rng.js";

const SECTIONS = ["database", "editors", "games", "gnome", "graphics", "kde", "mail", "math", "net", "science", "sound", "text", "video", "web"];
const VOCAB = 500;
const TRAIN_PER_CLASS = 20;
const VALID = 500;
const SPLIT_SEED = 0;
const LISTS = "/var/lib/apt/lists";

function arg(name: string, dflt: string | undefined): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

/** The main archive's index (not -security or -updates), the first one found. */
function defaultPackagesFile(): string {
  const names = readdirSync(LISTS).filter((n) => /_main_binary-[a-z0-9]+_Packages(\.lz4|\.gz|\.xz)?$/.test(n) && !/-(security|updates|backports)_/.test(n)).sort();
  if (names.length === 0) throw new Error(`no *_main_binary-*_Packages index in ${LISTS}: run apt-get update`);
  return join(LISTS, names[0]!);
}

function readPackages(path: string): string {
  if (path.endsWith(".lz4")) return execFileSync("lz4cat", [path], { maxBuffer: 1 << 30 }).toString("utf8");
  if (path.endsWith(".xz")) return execFileSync("xz", ["-dc", path], { maxBuffer: 1 << 30 }).toString("utf8");
  if (path.endsWith(".gz")) return gunzipSync(readFileSync(path)).toString("utf8");
  return readFileSync(path, "utf8");
}

type Stanza = Map<string, string>;

/** RFC 822-style stanzas; continuation lines are appended to their field. The first stanza per package wins. */
function parseStanzas(text: string): Map<string, Stanza> {
  const out = new Map<string, Stanza>();
  for (const block of text.split(/\n\s*\n/)) {
    const s: Stanza = new Map();
    let key = "";
    for (const line of block.split("\n")) {
      if (line === "") continue;
      if (line[0] === " " || line[0] === "\t") {
        if (key) s.set(key, `${s.get(key)!} ${line.trim()}`);
        continue;
      }
      const c = line.indexOf(":");
      if (c < 0) continue;
      key = line.slice(0, c);
      s.set(key, line.slice(c + 1).trim());
    }
    const name = s.get("Package");
    if (name && !out.has(name)) out.set(name, s);
  }
  return out;
}

function dependencies(s: Stanza, all: Map<string, Stanza>, providers: Map<string, string[]>): Set<string> {
  const out = new Set<string>();
  for (const field of ["Depends", "Pre-Depends", "Recommends"]) {
    for (const alt of (s.get(field) ?? "").split(",")) {
      const first = alt.split("|")[0]!.trim();
      const name = first.split(/[\s(:[]/)[0]!;
      if (!name) continue;
      if (all.has(name)) out.add(name);
      else if (providers.get(name)?.length === 1) out.add(providers.get(name)![0]!);
    }
  }
  return out;
}

const words = (desc: string): Set<string> => new Set((desc.toLowerCase().match(/[a-z][a-z0-9+]*/g) ?? []).filter((w) => w.length >= 3));

function main(): void {
  const file = arg("--packages", undefined) ?? defaultPackagesFile();
  const outPath = arg("--out", "data/debian-packages/debian-packages.json")!;
  const all = parseStanzas(readPackages(file));
  const providers = new Map<string, string[]>();
  for (const [name, s] of all) {
    for (const p of (s.get("Provides") ?? "").split(",")) {
      const v = p.trim().split(/\s/)[0]!;
      if (v) providers.set(v, [...(providers.get(v) ?? []), name]);
    }
  }
  const section = (s: Stanza): string => (s.get("Section") ?? "").replace(/^(contrib|non-free|non-free-firmware)\//, "");
  const chosen = [...all.keys()].filter((n) => SECTIONS.includes(section(all.get(n)!)));
  const inSet = new Set(chosen);
  const adj = new Map<string, Set<string>>(chosen.map((n) => [n, new Set()]));
  for (const a of chosen) {
    for (const b of dependencies(all.get(a)!, all, providers)) {
      if (b === a || !inSet.has(b)) continue;
      adj.get(a)!.add(b);
      adj.get(b)!.add(a);
    }
  }
  // the largest connected component
  const seen = new Set<string>();
  let best: string[] = [];
  for (const start of chosen.sort()) {
    if (seen.has(start)) continue;
    const comp = [start];
    seen.add(start);
    for (let i = 0; i < comp.length; i++) {
      for (const m of adj.get(comp[i]!)!) {
        if (!seen.has(m)) {
          seen.add(m);
          comp.push(m);
        }
      }
    }
    if (comp.length > best.length) best = comp;
  }
  const nodes = best.sort();
  const index = new Map(nodes.map((n, i) => [n, i]));
  const labels = nodes.map((n) => SECTIONS.indexOf(section(all.get(n)!)));
  const src: number[] = [], dst: number[] = [];
  for (const [i, n] of nodes.entries()) {
    for (const m of [...adj.get(n)!].map((x) => index.get(x)!).sort((a, b) => a - b)) {
      if (m > i) {
        src.push(i);
        dst.push(m);
      }
    }
  }
  // vocabulary: the words in the most descriptions (ties alphabetically)
  const bags = nodes.map((n) => words(all.get(n)!.get("Description") ?? ""));
  const df = new Map<string, number>();
  for (const b of bags) for (const w of b) df.set(w, (df.get(w) ?? 0) + 1);
  const vocabulary = [...df.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, VOCAB).map(([w]) => w);
  const vi = new Map(vocabulary.map((w, i) => [w, i]));
  const features = bags.map((b) => [...b].map((w) => vi.get(w)).filter((i): i is number => i !== undefined).sort((x, y) => x - y));
  // split: a seeded shuffle, then TRAIN_PER_CLASS per class, VALID nodes, the rest
  const order = nodes.map((_, i) => i);
  const u = new Float64Array(order.length);
  new Generator(SPLIT_SEED).fillUniform(u);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(u[i]! * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const perClass = new Array<number>(SECTIONS.length).fill(0);
  const train: number[] = [], rest: number[] = [];
  for (const i of order) {
    if (perClass[labels[i]!]! < TRAIN_PER_CLASS) {
      perClass[labels[i]!]!++;
      train.push(i);
    } else rest.push(i);
  }
  const sorted = (a: number[]): number[] => a.sort((x, y) => x - y);
  const release = /^Date: (.*)$/m.exec((() => {
    try {
      return readFileSync(join(LISTS, basename(file).replace(/_main_binary-.*$/, "_InRelease")), "utf8");
    } catch {
      return "";
    }
  })())?.[1];
  const doc = {
    format: "qkv-graph",
    version: 1,
    name: "debian-packages",
    source: `Debian package index ${basename(file)}${release ? ` (Release of ${release})` : ""}; built by tools/data/debian-graph.ts`,
    nodes,
    classes: SECTIONS,
    labels,
    edges: [src, dst],
    features: { kind: "bag-of-words", vocabulary, indices: features },
    split: { train: sorted(train), valid: sorted(rest.slice(0, VALID)), test: sorted(rest.slice(VALID)) },
  };
  writeFileSync(outPath, `{\n${Object.entries(doc).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(",\n")}\n}\n`);
  const counts = SECTIONS.map((s, c) => `${s} ${labels.filter((l) => l === c).length}`).join(", ");
  const same = src.filter((s, e) => labels[s] === labels[dst[e]!]).length;
  console.log(`${outPath}: ${nodes.length} nodes, ${src.length} edges (${((100 * same) / src.length).toFixed(1)}% join packages of one section), ` +
    `${vocabulary.length} words; ${counts}; split ${train.length} / ${Math.min(VALID, rest.length)} / ${Math.max(0, rest.length - VALID)}`);
}

main();
