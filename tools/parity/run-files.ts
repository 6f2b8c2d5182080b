/**
 * Runs parsed fixture files (browser-safe: no file system): every case of each family with a
 * runner, on the host or on a device backend (which must be the active backend).
 *
 * ```ts
 * const reports = await runFixtureFiles([{ file: "sdpa.json", fx }], webgpuBackend);
 * ```
 */
import type { AnyBackend } from "../../src/backend/backend.js";
import { runCase, type CaseOutcome, type FxFile } from "./fixture.js";
import { families } from "./families/index.js";

export interface FamilyReport {
  family: string;
  file: string;
  skipped: string | null;
  cases: CaseOutcome[];
}

/** One report per fixture file (files that are not fixture files are left out). */
export async function runFixtureFiles(files: readonly { file: string; fx: FxFile }[], device: AnyBackend | null = null,
  only?: readonly string[]): Promise<FamilyReport[]> {
  const reports: FamilyReport[] = [];
  for (const { file, fx } of files) {
    if (typeof fx.family !== "string" || !Array.isArray(fx.cases)) continue; // not a fixture file
    if (only && !only.includes(fx.family)) continue;
    const runner = families[fx.family];
    if (!runner) {
      reports.push({ family: fx.family, file, skipped: "not implemented yet", cases: [] });
      continue;
    }
    const cases: CaseOutcome[] = [];
    for (const c of fx.cases) cases.push(await runCase(c, runner, device));
    reports.push({ family: fx.family, file, skipped: null, cases });
  }
  return reports;
}
