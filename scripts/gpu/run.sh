#!/usr/bin/env bash
# The GPU run (after scripts/gpu/pack.sh here). On the GPU machine, from the repo root, carrying .gpu and .gl:
#   set -o pipefail; bash scripts/gpu/run.sh 2>&1 | tee $OUT/log.txt
# Phases (each under its own time limit, so that a slow one cannot eat the others):
#   check (webgpu vs cpu), PyTorch base, webgpu base, PyTorch large, webgpu large, table.
# Writes $OUT/{check,torch-base,webgpu-base,torch-large,webgpu-large}.json, smi-*.csv, results.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/autolora-gpu-out}
mkdir -p "$OUT"
STEPS=${STEPS:-3}
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
export PYTHONUNBUFFERED=1
NODE=/tmp/autolora-node
xz -dc .gpu/node.xz > $NODE && chmod +x $NODE
mkdir -p .gpu/node_modules/webgpu/dist/linux-x64
xz -dc .gpu/dawn.node.xz > .gpu/node_modules/webgpu/dist/linux-x64/dawn.node
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv
$NODE --version; $PY -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'

SMI=
smi_start() { nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader,nounits -lms 100 > "$OUT/smi-$1.csv" & SMI=$!; sleep 0.3; }
smi_stop() { [ -n "$SMI" ] && kill "$SMI" 2>/dev/null; wait "$SMI" 2>/dev/null; SMI=; }
phase() { local name=$1 limit=$2; shift 2; echo; echo "=== $name (limit ${limit}s)"; local t0=$SECONDS
  timeout "$limit" "$@"; local rc=$?; echo "=== $name: rc=$rc in $((SECONDS - t0)) s"; }
M="--max-old-space-size=16384"

phase check 150 $NODE $M .gpu/run.mjs check --backend webgpu --out "$OUT/check.json"
smi_start torch-base
phase torch-base 90 $PY test/bench/gpu_meta_step_torch.py --preset base --steps $STEPS --parts meta,lora,micro --out "$OUT/torch-base.json"
smi_stop
smi_start webgpu-base
phase webgpu-base 200 $NODE $M .gpu/run.mjs bench --backend webgpu --preset base --steps $STEPS --parts meta,lowlevel,flags,lora,micro --out "$OUT/webgpu-base.json"
smi_stop
smi_start torch-large
phase torch-large 60 $PY test/bench/gpu_meta_step_torch.py --preset large --steps 2 --parts meta --out "$OUT/torch-large.json"
smi_stop
smi_start webgpu-large
phase webgpu-large 150 $NODE $M .gpu/run.mjs bench --backend webgpu --preset large --steps 2 --parts meta --out "$OUT/webgpu-large.json"
smi_stop
phase table 30 $NODE .gpu/run.mjs table --dir "$OUT"
