#!/usr/bin/env bash
# Pack, here, everything the GPU run needs; nothing is built on the GPU machine.
#   .gpu/run.mjs      esbuild bundle of scripts/gpu/run.ts (checks + test/bench/gpu-meta-step.ts),
#                     built from a staged copy of sdk/ with scripts/gpu/sdk-webgpu.patch applied
#                     (skipped when sdk/ already has it)
#   .gpu/node.xz      this machine's node binary, xz-compressed
#   .gpu/node_modules/webgpu (index.js, package.json, types.d.ts; dawn.node as .gpu/dawn.node.xz), debug, ms
#   .gl/*.deb         the Vulkan loader (libvulkan1), unpacked there by run.sh
# Both folders are git-ignored; name them in the device call's `carry`. Then: bash scripts/gpu/run.sh there.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rm -rf .gpu && mkdir -p .gpu/node_modules/webgpu
stage=$(mktemp -d /tmp/autolora-gpu-stage.XXXXXX)
trap 'rm -rf "$stage"' EXIT
cp -r sdk scripts test "$stage"/
ln -s "$root/node_modules" "$stage/node_modules"
patch=scripts/gpu/sdk-webgpu.patch
if (cd "$stage" && git apply --check "$patch" 2>/dev/null); then
  (cd "$stage" && git apply "$patch") && echo "pack: applied $patch to the staged sdk/"
elif (cd "$stage" && git apply -R --check "$patch" 2>/dev/null); then
  echo "pack: sdk/ already has $patch"
else
  echo "pack: $patch applies neither forwards nor backwards to sdk/: refresh it" >&2
  exit 1
fi
npx --no-install esbuild "$stage/scripts/gpu/run.ts" --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --log-level=error --outfile=.gpu/run.mjs \
  --banner:js="import {createRequire} from 'module'; const require = createRequire(import.meta.url);"
cp node_modules/webgpu/index.js node_modules/webgpu/package.json node_modules/webgpu/types.d.ts .gpu/node_modules/webgpu/
xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > .gpu/dawn.node.xz
cp -r node_modules/debug node_modules/ms .gpu/node_modules/
xz -T0 -6 -c "$(command -v node)" > .gpu/node.xz
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update -qq && (cd .gl && apt-get $o download libvulkan1)
fi
du -sh .gpu .gl
