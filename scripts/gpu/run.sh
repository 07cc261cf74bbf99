#!/usr/bin/env bash
# The GPU run (after scripts/gpu/pack.sh here). On the GPU machine, from the repo root, carrying .gpu and .gl:
#   set -o pipefail; bash scripts/gpu/run.sh 2>&1 | tee $OUT/log.txt
# Phases (each under its own time limit, so that a slow one cannot eat the others):
#   check (webgpu vs cpu), PyTorch base, webgpu base, PyTorch large, webgpu large, table.
# Writes {check,torch-base,webgpu-base,torch-large,webgpu-large}.json, smi-*.csv and results.md into
# a work folder, re-packed into $OUT/results.tgz after every phase (the device tool returns at most 8
# files), and results.md into $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/autolora-gpu-out}
W=/tmp/autolora-gpu-work
mkdir -p "$OUT" "$W"
STEPS=${STEPS:-3}
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}
# The NVIDIA ICD (libGLX_nvidia.so.0) needs glvnd's libGLdispatch: .gl carries libvulkan1 + the glvnd libraries.
ldconfig -p | grep -E "libvulkan.so|libGLX_nvidia|libGLdispatch" | head -5
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
export PYTHONUNBUFFERED=1
NODE=/tmp/autolora-node
xz -dc .gpu/node.xz > $NODE && chmod +x $NODE
mkdir -p .gpu/node_modules/webgpu/dist/linux-x64
xz -dc .gpu/dawn.node.xz > .gpu/node_modules/webgpu/dist/linux-x64/dawn.node
xz -dc .gpu/run.mjs.xz > .gpu/run.mjs && xz -dc .gpu/cli.mjs.xz > .gpu/cli.mjs
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv
$NODE --version; $PY -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'

probe() { $NODE --input-type=module -e "import {create} from '$PWD/.gpu/node_modules/webgpu/index.js'; const a = await create([]).requestAdapter(); console.log('adapter', a ? JSON.stringify(a.info) : null); process.exit(a ? 0 : 1)"; }
if ! probe; then  # diagnostics for the Vulkan driver
  lib=$(ldconfig -p | grep -o '/[^ ]*libGLX_nvidia.so.0' | head -1); echo "ICD library: $lib"; ldd "$lib" | grep -i "not found"
  cat "$VK_DRIVER_FILES"; ls /usr/local/nvidia/share/vulkan/icd.d/ /usr/share/vulkan/icd.d/ 2>&1
  VK_LOADER_DEBUG=error,warn,driver probe 2>&1 | tail -25
fi

SMI=
smi_start() { nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader,nounits -lms 100 > "$W/smi-$1.csv" & SMI=$!; sleep 0.3; }
smi_stop() { [ -n "$SMI" ] && kill "$SMI" 2>/dev/null; wait "$SMI" 2>/dev/null; SMI=; }
phase() { local name=$1 limit=$2; shift 2; echo; echo "=== $name (limit ${limit}s)"; local t0=$SECONDS
  timeout "$limit" "$@"; local rc=$?; echo "=== $name: rc=$rc in $((SECONDS - t0)) s"
  tar -czf "$OUT/results.tgz" -C "$W" . ; }
M="--max-old-space-size=16384"

# PHASES (comma separated) picks what runs; the default is the whole benchmark. Also:
#   webgpu-nofused webgpu base meta-step + LoRA step with AUTOLORA_FUSED=0 (composite ops, as before the fused kernels)
#   webgpu-meta   webgpu base meta-step only (meta, lowlevel)
#   dawn-fast     webgpu base meta-step with Dawn's validation and robustness off (AUTOLORA_DAWN_OPTIONS)
#   pretrain      `autolora pretrain mlm --backend webgpu $PRETRAIN_ARGS`, checkpoint into $OUT/pretrained
#                 (limit PRETRAIN_LIMIT s, default 540)
PHASES=${PHASES:-check,torch-base,webgpu-base,webgpu-nofused,torch-large,webgpu-large,table}
want() { [[ ",$PHASES," == *",$1,"* ]]; }
# The checks compare training on webgpu with cpu step by step, so they draw dropout masks as cpu does.
want check && AUTOLORA_DEVICE_DROPOUT=0 phase check 80 $NODE $M .gpu/run.mjs check --backend webgpu --cpu-ref .gpu/cpu-ref.json --out "$W/check.json"
if want torch-base; then
  smi_start torch-base
  phase torch-base 60 $PY test/bench/gpu_meta_step_torch.py --preset base --steps $STEPS --parts meta,lora,micro --out "$W/torch-base.json"
  smi_stop
fi
if want webgpu-base; then
  smi_start webgpu-base
  phase webgpu-base 200 $NODE $M .gpu/run.mjs bench --backend webgpu --preset base --steps $STEPS --parts micro,meta,small,kprof,prof,lowlevel,lora --out "$W/webgpu-base.json"
  smi_stop
fi
if want webgpu-nofused; then  # the same base meta-step and LoRA step with the fused kernels off (sdk/backend/webgpu-fused.ts)
  AUTOLORA_FUSED=0 phase webgpu-nofused 150 $NODE $M .gpu/run.mjs bench --backend webgpu --preset base --steps $STEPS --parts meta,lora --out "$W/webgpu-base-nofused.json"
fi
if want webgpu-meta; then  # the meta-step alone (the baseline of dawn-fast, in the same call)
  phase webgpu-meta 120 $NODE $M .gpu/run.mjs bench --backend webgpu --preset base --steps $STEPS --parts meta,lowlevel --out "$W/webgpu-base-meta.json"
fi
if want dawn-fast; then
  AUTOLORA_DAWN_OPTIONS="enable-dawn-features=skip_validation,disable_robustness disable-dawn-features=lazy_clear_resource_on_first_use" \
    phase dawn-fast 120 $NODE $M .gpu/run.mjs bench --backend webgpu --preset base --steps $STEPS --parts meta,lowlevel --out "$W/webgpu-base-dawn-fast.json"
fi
if want torch-large; then
  smi_start torch-large
  phase torch-large 45 $PY test/bench/gpu_meta_step_torch.py --preset large --steps 2 --parts meta --out "$W/torch-large.json"
  smi_stop
fi
if want webgpu-large; then
  smi_start webgpu-large
  phase webgpu-large 130 $NODE $M .gpu/run.mjs bench --backend webgpu --preset large --steps 2 --parts meta --out "$W/webgpu-large.json"
  smi_stop
fi
if want pretrain; then
  # shellcheck disable=SC2086
  phase pretrain "${PRETRAIN_LIMIT:-540}" $NODE $M .gpu/cli.mjs pretrain mlm --backend webgpu --corpus .gpu/corpus.json.gz --out "$OUT/pretrained" ${PRETRAIN_ARGS:-}
fi
want table && phase table 20 $NODE .gpu/run.mjs table --dir "$W"
cp "$W/results.md" "$OUT/" 2>/dev/null
exit 0
