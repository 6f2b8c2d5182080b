/** Runs every fixture family found in a directory; one summary per family. */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { runCase, type CaseOutcome, type FxFile } from "./fixture.js";
import { families } from "./families/index.js";

export interface FamilyReport {
  family: string;
  file: string;
  skipped: string | null;
  cases: CaseOutcome[];
}

export function runFixtureDir(dir: string, only?: readonly string[]): FamilyReport[] {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`parity: ${dir} is not a directory`);
  const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  const reports: FamilyReport[] = [];
  for (const f of files) {
    const path = join(dir, f);
    let fx: FxFile;
    try {
      fx = JSON.parse(readFileSync(path, "utf8")) as FxFile;
    } catch (e) {
      reports.push({ family: f.replace(/\.json$/, ""), file: path, skipped: null, cases: [{ name: "(file)", ok: false, problems: [`unreadable: ${String(e)}`] }] });
      continue;
    }
    if (typeof fx.family !== "string" || !Array.isArray(fx.cases)) continue; // not a fixture file
    if (only && !only.includes(fx.family)) continue;
    const runner = families[fx.family];
    if (!runner) {
      reports.push({ family: fx.family, file: path, skipped: "not implemented yet", cases: [] });
      continue;
    }
    reports.push({ family: fx.family, file: path, skipped: null, cases: fx.cases.map((c) => runCase(c, runner)) });
  }
  return reports;
}
