#!/usr/bin/env bash
# Pack, here, everything the GPU run needs; nothing is built on the GPU machine.
#   .gpu/run.mjs      esbuild bundle of scripts/gpu/run.ts (checks + test/bench/gpu-meta-step.ts),
#                     built from a staged copy of sdk/
#   .gpu/cli.mjs      esbuild bundle of the CLI (scripts/gpu/cli.ts → sdk/cli/main.ts): `autolora pretrain ... --backend webgpu`
#   .gpu/corpus.json.gz the pretraining corpus (`autolora pretrain corpus`): the GPU machine lacks the data packages
#   .gpu/node.xz      this machine's node binary, xz-compressed
#   .gpu/node_modules/webgpu (index.js, package.json, types.d.ts; dawn.node as .gpu/dawn.node.xz), debug, ms
#   .gpu/cpu-ref.json the cpu backend's side of the correctness checks (logits, tiny searches, retrain)
#   .gl/*.deb         the Vulkan loader (libvulkan1) and glvnd, unpacked there by run.sh
# Both folders are git-ignored; name them in the device call's `carry`. Then: bash scripts/gpu/run.sh there.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rm -f .gpu/run.mjs && mkdir -p .gpu/node_modules/webgpu
stage=$(mktemp -d /tmp/autolora-gpu-stage.XXXXXX)
trap 'rm -rf "$stage"' EXIT
cp -r sdk scripts test "$stage"/
ln -s "$root/node_modules" "$stage/node_modules"
npx --no-install esbuild "$stage/scripts/gpu/run.ts" --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --log-level=error --outfile=.gpu/run.mjs \
  --banner:js="import {createRequire as __autoloraCreateRequire} from 'module'; const require = __autoloraCreateRequire(import.meta.url);"
npx --no-install esbuild "$stage/scripts/gpu/cli.ts" --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --log-level=error --outfile=.gpu/cli.mjs \
  --banner:js="import {createRequire as __autoloraCreateRequire} from 'module'; const require = __autoloraCreateRequire(import.meta.url);"
node .gpu/cli.mjs pretrain corpus --out .gpu/corpus.json.gz
# The bundles travel xz-compressed (16 MB each → 2 MB; the carry limit is 64 MiB); run.sh unpacks them.
xz -T0 -6 -c .gpu/cli.mjs > .gpu/cli.mjs.xz && xz -T0 -6 -c .gpu/run.mjs > .gpu/run.mjs.xz
rm -rf .gpu/node_modules/webgpu/dist   # run.sh unpacks dawn.node there; never carry it uncompressed
cp node_modules/webgpu/index.js node_modules/webgpu/package.json node_modules/webgpu/types.d.ts .gpu/node_modules/webgpu/
[ -s .gpu/dawn.node.xz ] || xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > .gpu/dawn.node.xz
rm -rf .gpu/node_modules/debug .gpu/node_modules/ms && cp -r node_modules/debug node_modules/ms .gpu/node_modules/
[ -s .gpu/node.xz ] || xz -T0 -6 -c "$(command -v node)" > .gpu/node.xz   # (delete .gpu to re-pack these)
# The Vulkan loader and glvnd (the NVIDIA ICD, libGLX_nvidia.so.0, fails without libGLdispatch).
if ! ls .gl/libvulkan1_*.deb .gl/libglvnd0_*.deb >/dev/null 2>&1; then
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update -qq && (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
# The cpu side of the correctness checks, computed here (same bundle, cpu backend), read there.
node .gpu/run.mjs check --cpu-only .gpu/cpu-ref.json
rm -f .gpu/run.mjs .gpu/cli.mjs   # carried as .xz only
du -sh .gpu .gl
