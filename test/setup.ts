/**
 * Loaded before every test file (node --import): registers the backends that load here and
 * selects the one named by QKV_BACKEND (default: the fastest), so that one test body runs on every
 * backend (tools/test-backends.ts runs the suite once per backend).
 */
import { loadBackends, setBackend, type BackendName } from "../src/node.js";

loadBackends({ quiet: true });
const name = process.env.QKV_BACKEND;
if (name) setBackend(name as BackendName);
