/**
 * Runs a check under every configuration of a backend: on native every instruction set the CPU has
 * and 1, 2 and 3 threads (restoring the best instruction set and the thread count after); on any
 * other backend once, as it is.
 */
import type { Backend } from "../../src/backend/backend.js";
import { getNativeIsa, getNumThreads, setNativeIsa, setNumThreads, type NativeIsa } from "../../src/backend/native/index.js";

export function everyConfig(be: Backend, body: (tag: string) => void): void {
  if (be.name !== "native") {
    body(be.name);
    return;
  }
  const best = getNativeIsa(), threads = getNumThreads();
  const isas: NativeIsa[] = best === "avx512" ? ["avx512", "avx2", "scalar"] : best === "avx2" ? ["avx2", "scalar"] : ["scalar"];
  try {
    for (const isa of isas) {
      setNativeIsa(isa);
      for (const t of [1, 2, 3]) {
        setNumThreads(t);
        body(`native ${isa}/${t}t`);
      }
    }
  } finally {
    setNativeIsa(best);
    setNumThreads(threads);
  }
}
