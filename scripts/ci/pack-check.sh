#!/usr/bin/env bash
# The package as a user gets it: `npm pack` this project, install the tarball into a fresh
# temporary project (the npm cache holds every dependency), and run the installed `autolora` bin
# there through npx and node_modules/.bin (symlinks, as npm makes them): --help, a user error
# (exit 2, one line), and a tiny search on the bundled model and task. Fails loudly on any error.
#
#   scripts/ci/pack-check.sh            (about 1-3 minutes on 2 cores)
#   KEEP=1 scripts/ci/pack-check.sh     keep the temporary folder for a look
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
tmp=$(mktemp -d "${TMPDIR:-/tmp}/autolora-pack.XXXXXX")
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$tmp"' EXIT; else echo "[pack-check] keeping $tmp"; fi
fail() {
  echo "[pack-check] FAILED: $*" >&2
  exit 1
}
step() { echo "[pack-check] ${SECONDS}s: $*"; }

# dist/ must be current: build when it is missing or older than a source file, then pack without
# running prepare again (CI's npm install has just built it).
if [ ! -f dist/cli/main.js ] || [ -n "$(find sdk -name '*.ts' -newer dist/cli/main.js -print -quit)" ]; then
  step "npm run build (dist/ missing or older than sdk/)"
  npm run build > "$tmp/build.log" 2>&1 || {
    tail -n 40 "$tmp/build.log" >&2
    fail "npm run build"
  }
fi
step "npm pack -> $tmp"
tarball=$(npm pack --silent --ignore-scripts --pack-destination "$tmp" | tail -n 1)
[ -f "$tmp/$tarball" ] || fail "npm pack wrote no tarball (got '$tarball')"
# (a listing file, not a pipe: grep -q would end tar early, and pipefail would call that a failure)
tar -tzf "$tmp/$tarball" > "$tmp/files.txt"
grep -qx 'package/dist/cli/main.js' "$tmp/files.txt" || fail "the tarball has no dist/cli/main.js"
grep -qx 'package/datasets/models/roberta-tiny/config.json' "$tmp/files.txt" || fail "the tarball has no bundled model"

app="$tmp/app"
mkdir -p "$app"
cd "$app"
# A project of its own (npm must not walk up to a parent package.json), with our package.json's
# "overrides": npm applies overrides of the root project only, and danfojs asks for xlsx by a CDN
# URL (cdn.sheetjs.com) that an install from the registry alone cannot reach; a user's project
# needs the same overrides (README).
node -e '
const own = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const app = { name: "autolora-pack-check", version: "1.0.0", private: true, type: "module", overrides: own.overrides ?? {} };
require("fs").writeFileSync("package.json", JSON.stringify(app, null, 2) + "\n");
' "$root/package.json"
step "npm install $tarball (offline cache)"
npm install --prefer-offline --no-audit --no-fund --fetch-retries=1 --loglevel=error "$tmp/$tarball" > "$tmp/install.log" 2>&1 || {
  tail -n 40 "$tmp/install.log" >&2
  fail "npm install of the tarball"
}
[ -L node_modules/.bin/autolora ] || fail "node_modules/.bin/autolora is not a symlink (npm made no bin)"

step "npx autolora --help"
npx --no-install autolora --help > "$tmp/help.txt" 2> "$tmp/help.err" || fail "npx autolora --help exited $? ($(cat "$tmp/help.err"))"
grep -q "Usage: autolora" "$tmp/help.txt" || fail "npx autolora --help printed no usage: $(head -c 400 "$tmp/help.txt")"
grep -q "search" "$tmp/help.txt" || fail "npx autolora --help lists no search command"

step "node_modules/.bin/autolora search --help"
./node_modules/.bin/autolora search --help > "$tmp/search-help.txt" || fail "autolora search --help exited $?"
grep -q -- "--max-train" "$tmp/search-help.txt" || fail "autolora search --help lists no --max-train"

step "a user error: exit 2 and one line"
set +e
./node_modules/.bin/autolora search --steps 0 > /dev/null 2> "$tmp/bad.err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "autolora search --steps 0 exited $rc, not 2 ($(cat "$tmp/bad.err"))"
[ "$(wc -l < "$tmp/bad.err")" = 1 ] || fail "autolora search --steps 0 printed more than one line: $(cat "$tmp/bad.err")"

step "npx autolora search (tiny, bundled model and task, wasm)"
out="$tmp/out"
npx --no-install autolora search --max-train 32 --max-dev 16 --steps 2 --batch-size 8 --retrain-epochs 1 --backend wasm --out "$out" 2> "$tmp/search.err" ||
  {
    cat "$tmp/search.err" >&2
    fail "npx autolora search exited $?"
  }
[ -f "$out/results.json" ] || fail "search wrote no results.json"
[ -f "$out/adapter/adapter_config.json" ] || fail "search wrote no adapter/adapter_config.json"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (r.steps !== 2) throw new Error("steps " + r.steps + ", not 2");
if (!Array.isArray(r.ranks) || r.ranks.length === 0) throw new Error("no ranks");
if (!r.metric || !r.metric.metrics) throw new Error("no metric");
if (!require("fs").existsSync(r.model)) throw new Error("model path " + r.model + " does not exist");
' "$out/results.json" || fail "results.json is not what search writes: $(head -c 600 "$out/results.json")"
# A global install (npm install -g) cannot apply a project's overrides, so danfojs' CDN-hosted
# xlsx is out of reach there: danfojs is an optional dependency, npm skips it, and the bin works.
step "npm install -g --prefix (no overrides) + autolora --help"
npm install -g --prefix "$tmp/global" --prefer-offline --no-audit --no-fund --fetch-retries=1 --loglevel=error "$tmp/$tarball" > "$tmp/global.log" 2>&1 || {
  tail -n 40 "$tmp/global.log" >&2
  fail "npm install -g of the tarball"
}
"$tmp/global/bin/autolora" --help > "$tmp/ghelp.txt" 2>&1 || fail "the globally installed autolora --help exited $?: $(head -c 400 "$tmp/ghelp.txt")"
grep -q "Usage: autolora" "$tmp/ghelp.txt" || fail "the globally installed autolora --help printed no usage"
step "ok ($(du -h "$tmp/$tarball" | cut -f1) tarball)"
cd "$root"
