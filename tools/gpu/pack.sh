#!/bin/bash
# Packs, in the repository root, what the GPU benchmarks need on a machine with a GPU, no package
# registry and a 64 MiB limit on what one call carries (the device machine; docs/performance.md,
# "WebGPU"):
#   .gl/        libvulkan1 (the Vulkan loader), as a .deb
#   .gpu/       bench/webgpu.ts, bench/demo.ts, the parity runner (tools/parity.ts, with the
#               PyTorch fixtures) and the kernel cases (tools/webgpu-cases.ts) bundled, the webgpu package with its dawn.node
#               xz-compressed, the native addon compressed, and all but the first part of a
#               compressed node binary; with
#               QKV_BASE_REV set (a commit), also that commit's bench/demo.ts as demo-base.js, which
#               device-run.sh times in turns with the current one
#   .gpu-node/  the first part of the node binary (carried by a call of its own)
# All three are kept out of git through .git/info/exclude. Needs npm's registry and apt here.
#
#   bash tools/gpu/pack.sh                       # or: QKV_BASE_REV=52ae3ee bash tools/gpu/pack.sh
#   then, on the device: carry [".gpu-node"] with `ls -l .gpu-node`, and at once carry
#   [".gpu", ".gl"] with `bash tools/gpu/device-run.sh` (its results under $OUT)
set -euo pipefail
cd "$(dirname "$0")/../.."
exclude=$(git rev-parse --git-path info/exclude)
for d in .gpu .gpu-node .gl; do grep -qx "/$d/" "$exclude" 2>/dev/null || echo "/$d/" >> "$exclude"; done

rm -rf .gpu .gpu-node .gl && mkdir -p .gpu/node_modules/webgpu .gpu-node .gl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the Vulkan loader for amd64, from Debian's archive
mkdir -p "$tmp/apt/partial"
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$tmp/apt")
apt-get "${apt_opts[@]}" update -qq
(cd .gl && apt-get "${apt_opts[@]}" download -qq libvulkan1)

# the webgpu package (dawn.node) from npm, its linux-x64 binary compressed
(cd "$tmp" && npm pack -s webgpu@0.6.2 >/dev/null && tar -xzf webgpu-0.6.2.tgz)
cp "$tmp/package/package.json" "$tmp/package/index.js" .gpu/node_modules/webgpu/
xz --x86 --lzma2=preset=9e -c "$tmp/package/dist/linux-x64/dawn.node" > .gpu/node_modules/webgpu/dawn.node.xz

# node itself, stripped and compressed, in parts of 12 MiB
strip -o "$tmp/node" "$(command -v node)"
xz --x86 --lzma2=preset=9e -c "$tmp/node" | split -b 12M - "$tmp/node.xz."
mv "$tmp/node.xz.aa" .gpu-node/
for f in "$tmp"/node.xz.a[b-z]; do [ -e "$f" ] && mv "$f" .gpu/; done

# the benches, bundled (demo.js with its packages, so it runs without node_modules)
npx esbuild bench/webgpu.ts --bundle --splitting --packages=external --platform=node --format=esm --target=node20 --outdir=.gpu --log-level=warning
npx esbuild bench/demo.ts --bundle --external:webgpu --platform=node --format=esm --target=node20 --outfile=.gpu/demo.js --log-level=warning \
  "--banner:js=import { createRequire as qkvRequire } from 'node:module'; const require = qkvRequire(import.meta.url);"

# the parity runner bundled with the PyTorch fixtures, to run them on the GPU in Node
npx esbuild tools/parity.ts --bundle --external:webgpu --platform=node --format=esm --target=node20 --outfile=.gpu/parity.js --log-level=warning \
  "--banner:js=import { createRequire as qkvRequire } from 'node:module'; const require = qkvRequire(import.meta.url);"
mkdir -p .gpu/fixtures && cp test/fixtures/pytorch/*.json .gpu/fixtures/
# and the kernel cases of the browser tests (tools/webgpu-cases.ts), every kernel against js on the GPU
npx esbuild tools/webgpu-cases.ts --bundle --external:webgpu --platform=node --format=esm --target=node20 --outfile=.gpu/cases.js --log-level=warning \
  "--banner:js=import { createRequire as qkvRequire } from 'node:module'; const require = qkvRequire(import.meta.url);"

# the native addon, so that the bundled demo's host-side ops run native there (QKV_NATIVE_ADDON in
# device-run.sh), and the native backend's demo can be timed on that machine's CPU
xz --x86 --lzma2=preset=9e -c build/Release/qkv_native.node > .gpu/qkv_native.node.xz

# an earlier commit's demo, to time in turns with this one (its sources from git, this checkout's packages)
if [ -n "${QKV_BASE_REV:-}" ]; then
  base="$tmp/base"
  mkdir -p "$base"
  git archive "$QKV_BASE_REV" | tar -x -C "$base"
  ln -s "$PWD/node_modules" "$base/node_modules"
  (cd "$base" && npx esbuild bench/demo.ts --bundle --external:webgpu --platform=node --format=esm --target=node20 --outfile="$OLDPWD/.gpu/demo-base.js" --log-level=warning \
    "--banner:js=import { createRequire as qkvRequire } from 'node:module'; const require = qkvRequire(import.meta.url);")
  git rev-parse --short "$QKV_BASE_REV" > .gpu/demo-base.rev
fi

du -sh .gpu .gpu-node .gl
