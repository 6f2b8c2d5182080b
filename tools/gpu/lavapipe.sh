#!/bin/bash
# Mesa 25's lavapipe (llvmpipe's Vulkan driver, from Debian bookworm-backports) unpacked into a
# folder, for running the WebGPU kernels through dawn.node on a machine without a GPU: unlike
# SwiftShader it has shader-f16 (the f16 GEMM kernel itself runs) and subgroups of 8 or 16 lanes.
# Debian 12's own Mesa 22 lavapipe is refused by dawn.node. Nothing is installed system-wide; the
# last line printed is the environment to run with, e.g.
#
#   eval "$(bash tools/gpu/lavapipe.sh | tail -1)"
#   npm run webgpu-cases -- --webgpu /path/to/webgpu     # or: npm run bench -- webgpu --cpu-adapter ...
#
# With the webgpu package installed, QKV_LAVAPIPE_DIR=<the folder> makes test/browser/webgpu-node.test.ts
# run the f16 GEMM's cases there too.
#
# Needs apt, Debian's archive and the Vulkan loader (libvulkan1, or Chromium's libvulkan.so.1 on
# LD_LIBRARY_PATH); QKV_LAVAPIPE_DIR (default /tmp/qkv-lavapipe) is where it goes.
set -euo pipefail
dir=${QKV_LAVAPIPE_DIR:-/tmp/qkv-lavapipe}
mkdir -p "$dir/apt/partial" "$dir/debs"
echo "deb http://deb.debian.org/debian bookworm-backports main" > "$dir/sources.list"
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$dir/apt"
  "-oDir::Etc::SourceList=$dir/sources.list" -oDir::Etc::SourceParts=/dev/null)
apt-get "${apt_opts[@]}" update -qq
(cd "$dir/debs" && apt-get "${apt_opts[@]}" download -qq -t bookworm-backports mesa-vulkan-drivers libdrm2 libdrm-amdgpu1)
for f in "$dir"/debs/*.deb; do dpkg -x "$f" "$dir/root"; done
lib="$dir/root/usr/lib/x86_64-linux-gnu"
[ -f "$lib/libvulkan_lvp.so" ] || { echo "lavapipe.sh: no libvulkan_lvp.so in the unpacked packages" >&2; exit 1; }
sed "s#\"libvulkan_lvp.so\"#\"$lib/libvulkan_lvp.so\"#" "$dir/root/usr/share/vulkan/icd.d/lvp_icd.json" > "$dir/lvp_icd.json"
echo "lavapipe: $(ls "$dir"/debs/mesa-vulkan-drivers_*.deb | xargs -n1 basename) unpacked in $dir"
echo "export VK_ICD_FILENAMES=$dir/lvp_icd.json VK_DRIVER_FILES=$dir/lvp_icd.json LD_LIBRARY_PATH=$lib XDG_RUNTIME_DIR=\${XDG_RUNTIME_DIR:-/tmp}"
