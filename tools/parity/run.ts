/** Runs every fixture family found in a directory; one summary per family. */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { AnyBackend } from "../../src/backend/backend.js";
import type { FxFile } from "./fixture.js";
import { runFixtureFiles, type FamilyReport } from "./run-files.js";

export type { FamilyReport } from "./run-files.js";

/** The reports of every .json fixture file in `dir` (an unreadable file is one failed case), on the host or on `device`. */
export async function runFixtureDir(dir: string, only?: readonly string[], device: AnyBackend | null = null): Promise<FamilyReport[]> {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`parity: ${dir} is not a directory`);
  const names = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  const reports: FamilyReport[] = [];
  for (const f of names) {
    const path = join(dir, f);
    let fx: FxFile;
    try {
      fx = JSON.parse(readFileSync(path, "utf8")) as FxFile;
    } catch (e) {
      reports.push({ family: f.replace(/\.json$/, ""), file: path, skipped: null, cases: [{ name: "(file)", ok: false, problems: [`unreadable: ${String(e)}`] }] });
      continue;
    }
    reports.push(...await runFixtureFiles([{ file: path, fx }], device, only));
  }
  return reports;
}
