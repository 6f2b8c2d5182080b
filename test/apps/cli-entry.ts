/** Runs the qkv command from the sources (the tests' stand-in for bin/qkv.js, which runs the build). */
import { main } from "../../src/cli/main.js";

await main(process.argv);
