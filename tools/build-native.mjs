#!/usr/bin/env node
/* global process */
/**
 * The package's install step: builds the native addon (build/Release/qkv_native.node) with
 * node-gyp. It never fails the install: without a C++ compiler (or with QKV_SKIP_NATIVE=1) it
 * prints one line and exits 0, and qkv runs on its js backend.
 *
 * node-gyp: npm's bundled copy (npm exports its path to lifecycle scripts as npm_config_node_gyp),
 * else the one next to this node's npm, else `node-gyp` on PATH. Node headers: npm's nodedir
 * config, else this node's own include/node when present, else node-gyp downloads them.
 * QKV_NATIVE_VERBOSE=1 shows the compiler output.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const verbose = process.env.QKV_NATIVE_VERBOSE === "1";

function notice(message) {
  process.stderr.write(`qkv: ${message}\n`);
}

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    join(dirname(process.execPath), "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  for (const c of candidates) if (c && existsSync(c)) return { command: process.execPath, args: [c] };
  return { command: process.platform === "win32" ? "node-gyp.cmd" : "node-gyp", args: [] };
}

function main() {
  if (process.env.QKV_SKIP_NATIVE === "1") {
    notice("QKV_SKIP_NATIVE=1, native backend not built; using the js backend");
    return;
  }
  const gyp = findNodeGyp();
  const args = [...gyp.args, "rebuild", "-j", "max"];
  if (!process.env.npm_config_nodedir) {
    const prefix = resolve(dirname(process.execPath), "..");
    if (existsSync(join(prefix, "include", "node", "node_api.h"))) args.push(`--nodedir=${prefix}`);
  }
  const started = Date.now();
  const result = spawnSync(gyp.command, args, {
    cwd: root,
    stdio: verbose ? "inherit" : ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const built = existsSync(join(root, "build", "Release", "qkv_native.node"));
  if (result.status === 0 && built) {
    notice(`native backend built (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    return;
  }
  // The most telling line: the compiler's or node-gyp's first error.
  const output = `${result.stdout ?? ""}\n${result.stderr ?? ""}`;
  const reason = result.error
    ? result.error.message
    : (output.split("\n").find((l) => /error|not found|No such file/i.test(l)) ?? `exit code ${result.status}`).trim();
  notice(`native backend not built (${reason.slice(0, 200)}); using the js backend. ` +
    "Install a C++ compiler, then `npm rebuild qkv` (`npm run install` in a checkout) (QKV_NATIVE_VERBOSE=1 shows the build output).");
}

try {
  main();
} catch (e) {
  notice(`native backend not built (${e instanceof Error ? e.message : String(e)}); using the js backend`);
}
process.exit(0);
