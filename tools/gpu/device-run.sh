#!/bin/bash
# Runs on the device machine, in the repository root, with .gpu-node, .gpu and .gl (tools/gpu/pack.sh)
# carried: installs the Vulkan loader, unpacks node and dawn.node, runs the PyTorch parity fixtures on
# the GPU (`npm run parity -- ... --backend webgpu`), then `npm run bench -- webgpu`
# (GEMM and attention against PyTorch CUDA, with --peak 67: an H100 / H200 SXM's fp32 TFLOP/s) and
# `npm run bench -- demo --backend webgpu --steps 1000` (with --by-kernel; then with --matmul-precision
# fp16, the GEMM's f16 staging, where the device has shader-f16), then the demo's host
# share alone (--host-only, 300 steps) and the library's own part of it (--null-device, 2000 steps: no
# WebGPU implementation at all), the browser tests' kernel cases (`npm run webgpu-cases`: every
# kernel against js, the f16 GEMM where there is shader-f16), and the demo on the native backend of that machine's CPU (2 and
# 16 threads: the carried addon), writing their output and JSON under $OUT. With
# .gpu/demo-base.js (pack.sh's QKV_BASE_REV), that build's demo and this one's are then timed in
# turns, QKV_TURNS rounds (default 3) of 1000 steps each, into $OUT/demo-turns.txt.
# Extra arguments go to both benches (e.g. --cpu-adapter to try it on SwiftShader's Vulkan driver);
# QKV_DEMO_STEPS changes the demo's 1000 steps.
#
#   bash tools/gpu/device-run.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/qkv-gpu-out}
mkdir -p "$out"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig 2>/dev/null || true
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
unxz='import lzma, sys; sys.stdout.buffer.write(lzma.decompress(sys.stdin.buffer.read()))'
node=$(command -v node) || {
  cat .gpu-node/node.xz.* .gpu/node.xz.* | python3 -c "$unxz" > /tmp/qkv-node && chmod +x /tmp/qkv-node && node=/tmp/qkv-node
}
mkdir -p .gpu/node_modules/webgpu/dist/linux-x64
python3 -c "$unxz" < .gpu/node_modules/webgpu/dawn.node.xz > .gpu/node_modules/webgpu/dist/linux-x64/dawn.node
# the native addon for the demo's host-side ops (and the native run below)
if [ -f .gpu/qkv_native.node.xz ]; then
  python3 -c "$unxz" < .gpu/qkv_native.node.xz > .gpu/qkv_native.node && export QKV_NATIVE_ADDON=$PWD/.gpu/qkv_native.node
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv | tee "$out/gpu.txt"
"$node" .gpu/parity.js .gpu/fixtures --backend webgpu --webgpu .gpu/node_modules/webgpu 2>&1 | tee "$out/parity.txt"
"$node" .gpu/webgpu.js --torch python3 --peak 67 --json "$out/webgpu.json" "$@" 2>&1 | tee "$out/webgpu.txt"
"$node" .gpu/demo.js --backend webgpu --steps "${QKV_DEMO_STEPS:-1000}" --by-kernel --json "$out/demo.json" "$@" 2>&1 | grep -v "^train step" | tee "$out/demo.txt"
"$node" .gpu/demo.js --backend webgpu --steps "${QKV_DEMO_STEPS:-1000}" --matmul-precision fp16 --json "$out/demo-fp16.json" "$@" 2>&1 | grep -v "^train step" | tee "$out/demo-fp16.txt"
"$node" .gpu/demo.js --backend webgpu --steps "${QKV_DEMO_HOST_STEPS:-300}" --host-only --json "$out/demo-host.json" "$@" 2>&1 | grep -v "^train step" | tee "$out/demo-host.txt"
"$node" .gpu/demo.js --backend webgpu --steps "${QKV_DEMO_NULL_STEPS:-2000}" --null-device --json "$out/demo-null.json" 2>&1 | grep -v "^train step" | tee "$out/demo-null.txt"
# every kernel case against js on the GPU (correctness; after the timings, which the issue waits for)
"$node" --expose-gc .gpu/cases.js --webgpu .gpu/node_modules/webgpu 2>&1 | tee "$out/cases.txt"
# the same 1000 steps on that machine's CPU (native, 2 threads as here, then 16), for the record beside this machine's
if [ -n "${QKV_NATIVE_ADDON:-}" ]; then
  for t in 2 16; do
    "$node" .gpu/demo.js --backend native --threads "$t" --steps "${QKV_DEMO_STEPS:-1000}" --json "$out/demo-native-$t.json" 2>&1 | grep -v "^train step" | tee "$out/demo-native-$t.txt"
  done
fi
if [ -f .gpu/demo-base.js ]; then
  for r in $(seq "${QKV_TURNS:-3}"); do
    for build in base current; do
      js=.gpu/demo.js
      [ "$build" = base ] && js=.gpu/demo-base.js
      echo "round $r, $build ($([ "$build" = base ] && cat .gpu/demo-base.rev || echo HEAD)):" | tee -a "$out/demo-turns.txt"
      "$node" "$js" --backend webgpu --steps "${QKV_DEMO_STEPS:-1000}" "$@" 2>&1 | grep -E "ms per step|steps in" | tee -a "$out/demo-turns.txt"
    done
  done
fi
