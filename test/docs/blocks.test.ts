/**
 * Documentation that runs: every fenced code block of README.md and docs/guides/*.md, and every
 * `@example` of the public API's TSDoc (what sdk/index.ts and the `exports` subpaths export, members
 * included), is executed;
 * every relative link of README.md and docs/**\/*.md resolves to a file.
 *
 * TypeScript blocks (`ts`, `typescript`, `js`) become modules in tmp/doc-blocks/blocks/ (inside
 * the repository, so `import … from "autolora"` is the package's self-reference to the built
 * dist/: run `npm run build` first), are type-checked by one `tsc` run (strict) and run one after
 * the other in two node processes whose working directory has a copy of `datasets/`, on the bundled
 * default (roberta-tiny, the spam task). The rules that turn a block into a module, in order:
 *  1. REWRITES below: exact text replacements that make a long block small (fewer steps, a slice
 *     of the data) or point at a file that ships; each must match, or the test fails;
 *  2. the block's own import lines stay; a public name it uses without importing it (TSDoc
 *     examples leave imports out) is imported from "autolora", or from the package.json `exports`
 *     subpath that exports it (`"autolora/models"`) when the root does not; `tf` is `@tensorflow/tfjs`;
 *  3. a fragment — a block using a name it does not declare, such as `session` or `model` after
 *     an earlier cell — gets the PRELUDE entries of those names (and what they need), declared
 *     before the block; the block itself runs in braces, so its own declarations win. A name
 *     neither public nor in PRELUDE is left alone: the type check then fails and says which.
 * Shell blocks (`sh`, `bash`, `shell`, `console`) run line by line (comments stripped) from the
 * repository root, through SHELL, which must list every line: it runs as written (`{}`), or rewritten with small-size flags
 * and outputs under tmp/doc-blocks/, or is a named skip with its reason (a server, the whole
 * suite, the install itself, minutes of work another test does). Fences without a language are
 * formulas and are listed as not code. Skips and not-code blocks are printed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type DocBlock, freeNames, markdownBlocks, moduleOf, relativeLinks, tsdocExamples } from "./blocks.js";

const ROOT = resolve(import.meta.dirname, "../..");
/**
 * `DOC_BLOCKS=a,b npx vitest run test/docs/blocks.test.ts` runs only the blocks whose id contains
 * one of the pieces (e.g. `sdk/ops/second-order.ts`), in a work folder of its own, and skips the
 * whole-corpus checks: for fixing examples. Unset (as in `npm test`), everything runs.
 */
const FILTER = (process.env.DOC_BLOCKS ?? "").split(",").filter((s) => s.trim());
const WORK = join(
  ROOT,
  FILTER.length
    ? `tmp/doc-blocks-${FILTER.join("_")
        .replace(/[^A-Za-z0-9]+/g, "-")
        .slice(0, 60)}`
    : "tmp/doc-blocks",
);
const hasBuild = existsSync(join(ROOT, "dist/index.js")) && existsSync(join(ROOT, "dist/index.d.ts"));
if (!hasBuild) console.warn("[doc blocks] TypeScript and CLI blocks skipped: dist/ missing (run `npm run build`)");

const MARKDOWN = [
  "README.md",
  ...readdirSync(join(ROOT, "docs/guides"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/guides/${f}`),
];
/**
 * Our model cards: their TypeScript ("Use") blocks run; their shell block is the command that
 * made the checkpoint (minutes of pretraining, over the committed files), which
 * test/pretrain/pretrain.test.ts runs in small form instead.
 */
const MODEL_CARDS = readdirSync(join(ROOT, "datasets/models"), { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(ROOT, "datasets/models", e.name, "README.md")))
  .map((e) => `datasets/models/${e.name}/README.md`);
const TS_LANGS = new Set(["ts", "typescript", "js", "javascript", "mjs"]);
const SH_LANGS = new Set(["sh", "bash", "shell", "console"]);

/** Where a block is made small or pointed at shipped files: block id prefix → [text, replacement][], and why. */
const REWRITES: { block: string; replace: [string, string][]; why: string }[] = [
  {
    block: "README.md:",
    replace: [
      ["spam.splits.train.slice(0, 400)", "spam.splits.train.slice(0, 32)"],
      ["dev: spam.splits.dev,", "dev: spam.splits.dev.slice(0, 16),"],
      ["steps: 50", "steps: 2"],
      ["epochs: 2", "epochs: 1"],
    ],
    why: "the README's TypeScript example, 2 meta-steps and 1 retraining epoch on 32 examples",
  },
  {
    block: "README.md:",
    replace: [['"peft-adapter-from-python"', '"adapter"']],
    why: "no PEFT adapter made by Python ships for roberta-tiny: load the one the block just saved",
  },
  {
    block: "sdk/compare/compare.ts:",
    replace: [["seeds: 3 }", "seeds: 1, maxTrain: 16, maxDev: 8, batchSize: 8 }"]],
    why: "one seed on 16 training examples",
  },
  {
    block: "sdk/pretrain/pipeline.ts:",
    replace: [
      ["steps: 1200, seed: 0 }", 'steps: 2, seed: 0, sources: ["spam"], vocabSize: 300, hidden: 16, layers: 1, heads: 2, batchSize: 4, evalBlocks: 4 }'],
      ['out: "datasets/models/roberta-tiny"', 'out: "pretrained-tiny"'],
    ],
    why: "2 steps of a 1-layer model on one source, written beside (not over) the copy of roberta-tiny that later blocks load",
  },
];

const MODEL_DIR = "datasets/models/roberta-tiny";
/** Declared preludes of fragments: name → code that declares it, and the names that code needs. */
const PRELUDE: Record<string, { needs?: string[]; code: string }> = {
  spam: { code: 'const spam = task("spam");' },
  model: { needs: ["spam"], code: `const model = await loadPretrained("${MODEL_DIR}", { head: spam.head, numLabels: spam.numLabels });` },
  otherModel: { needs: ["spam"], code: `const otherModel = await loadPretrained("${MODEL_DIR}", { head: spam.head, numLabels: spam.numLabels });` },
  tokenizer: { code: `const tokenizer = await loadTokenizer("${MODEL_DIR}");` },
  data: { needs: ["spam"], code: "const data = { train: spam.splits.train.slice(0, 32), dev: spam.splits.dev.slice(0, 16), metrics: spam.metrics };" },
  session: {
    needs: ["model", "tokenizer", "data"],
    // One step, so that history, α trajectories and loss curves have a row.
    code: "const session = await Session.create({ model, tokenizer, data, batchSize: 8, innerLr: 1e-3, outerLr: 1e-2, seed: 0 });\nawait session.step();",
  },
  store: { needs: ["model"], code: "const store = model.params;" },
  rng: { code: "const rng = new Rng(0);" },
};
/** Blocks (id prefix) whose fragment means another model: PRELUDE entries replaced for them. */
const PRELUDE_FOR: { block: string; entries: typeof PRELUDE }[] = [
  {
    block: "sdk/models/generate.ts:",
    entries: {
      model: { code: 'const model = await loadPretrained("datasets/models/gpt2-tiny");' },
      tokenizer: { code: 'const tokenizer = await loadTokenizer("datasets/models/gpt2-tiny");' },
    },
  },
];
const notRun = (id: string) => NOT_RUN.find((n) => id.startsWith(n.block))?.why;
/** Blocks (id prefix) type-checked but not run, and why. */
const NOT_RUN: { block: string; why: string }[] = [
  {
    block: "sdk/backend/webgpu-",
    why: "the fused webgpu kernels need a webgpu adapter (test/backend/webgpu-*.test.ts run them on lavapipe)",
  },
];

/** What a shell line does in this test: run as written (absent), run `run` instead, or skip. */
interface ShellRule {
  run?: string;
  skip?: string;
  /** The output (stdout + stderr) must match. */
  expect?: RegExp;
  /** Files (relative to the repository root) the command must have written. */
  creates?: string[];
}
const OUT = "tmp/doc-blocks/out";
const SMALL_SEARCH = "--steps 2 --max-train 32 --max-dev 16 --retrain-epochs 1";
const SHELL: Record<string, ShellRule> = {
  "npx autolora worker --queue redis://queue-host:6379 --backend webgpu --concurrency 1": {
    skip: "a worker serves a Redis queue until stopped (test/cli/sweep-queue.test.ts runs workers on a real redis-server)",
  },
  "npx autolora sweep examples/sweep-compare.yaml --queue redis://queue-host:6379": {
    skip: "needs the Redis server and workers above (test/cli/sweep-queue.test.ts runs this on a real redis-server)",
  },
  "npx autolora sweep examples/sweep-thresholds.yaml --workers 2": {
    run: `mkdir -p ${OUT} && sed 's#out: runs/#out: ${OUT}/#' examples/sweep-thresholds.yaml > ${OUT}/sweep-thresholds.yaml && npx autolora sweep ${OUT}/sweep-thresholds.yaml --workers 2`,
    creates: [`${OUT}/sweep-thresholds/sweep.md`, `${OUT}/sweep-thresholds/sweep.json`],
  },
  "npx autolora sweep examples/sweep-compare.yaml --workers 2": {
    run: `mkdir -p ${OUT} && sed -e 's#out: runs/#out: ${OUT}/#' -e 's#first-seed: \\[0, 1, 2, 3\\]#first-seed: [0, 1]#' examples/sweep-compare.yaml > ${OUT}/sweep-compare.yaml && npx autolora sweep ${OUT}/sweep-compare.yaml --workers 2`,
    creates: [`${OUT}/sweep-compare/sweep.md`],
  },
  "npm install && npm run demo": {
    run: `npm run demo -- ${SMALL_SEARCH} --out ${OUT}/demo`,
    creates: [`${OUT}/demo/results.json`, `${OUT}/demo/adapter/adapter_config.json`],
  },
  "npm install && npm test": { skip: "the whole suite, of which this test is a part (CI runs it through .ci/run after npm install)" },
  "npm install": { skip: "installs from the npm registry: CI's own first step (.ci/run)" },
  "npx autolora search --model DIR --task sst2 --data-dir glue/SST-2 --out runs/sst2": {
    run: `npx autolora search --model ${MODEL_DIR} --task sst2 --data-dir datasets/fixtures/glue/SST-2 --out ${OUT}/sst2 ${SMALL_SEARCH}`,
    creates: [`${OUT}/sst2/results.json`],
  },
  "npx autolora search --model DIR --train train.csv --dev dev.csv --steps 200 --hypergradient exact": {
    run: `npx autolora search --model ${MODEL_DIR} --train datasets/fixtures/formats/reviews.csv --dev datasets/fixtures/formats/reviews.csv --hypergradient exact --out ${OUT}/csv ${SMALL_SEARCH}`,
    creates: [`${OUT}/csv/results.json`],
  },
  "npx autolora search --train reviews.jsonl --dev reviews.jsonl --text-column text --label-column label": {
    run: `npx autolora search --train datasets/fixtures/formats/reviews.jsonl --dev datasets/fixtures/formats/reviews.jsonl --text-column text --label-column label --out ${OUT}/jsonl ${SMALL_SEARCH}`,
    creates: [`${OUT}/jsonl/results.json`],
  },
  "npx autolora search --train hub-download/ --steps 20": {
    run: `npx autolora search --train datasets/fixtures/formats/hub/ --out ${OUT}/hub ${SMALL_SEARCH}`,
    creates: [`${OUT}/hub/results.json`],
  },
  "npx autolora compare --task spam --methods lora,dylora,adalora,adapter,full,autolora --seeds 3": {
    run: `npx autolora compare --task spam --methods lora,dylora,adalora,adapter,full,autolora --seeds 1 --max-train 32 --max-dev 16 --out ${OUT}/compare`,
    creates: [`${OUT}/compare/compare.json`],
  },
  "npx autolora compare --task spam --methods lora@1,lora@8 --baseline lora@8 --epochs 3 --curve": {
    run: `npx autolora compare --task spam --methods lora@1,lora@8 --baseline lora@8 --epochs 2 --curve --seeds 2 --max-train 32 --max-dev 16 --out ${OUT}/compare-ranks`,
    creates: [`${OUT}/compare-ranks/compare.md`],
    expect: /after each epoch/,
  },
  "npx autolora compare --model datasets/models/llama-tiny --task cmudict --methods lora,autolora --decode 100": {
    run: `npx autolora compare --model datasets/models/llama-tiny --task cmudict --methods lora,autolora --decode 4 --seeds 1 --max-train 32 --max-dev 8 --out ${OUT}/compare-lm`,
    creates: [`${OUT}/compare-lm/compare.md`],
    expect: /wer|exact_match/,
  },
  "npx autolora pretrain clm --arch llama --out runs/llama-tiny --steps 1500 --batch-size 16 --lr 2e-3": {
    run: `npx autolora pretrain clm --arch llama --out ${OUT}/pretrain-llama --steps 2 --batch-size 4 --lr 2e-3 --sources spam --vocab-size 300 --hidden 16 --layers 1 --heads 2 --eval-blocks 4`,
    creates: [`${OUT}/pretrain-llama/config.json`, `${OUT}/pretrain-llama/model.safetensors`],
  },
  "npx autolora pretrain mlm --out datasets/models/roberta-tiny --steps 3000 --lr 2e-3": {
    run: `npx autolora pretrain mlm --out ${OUT}/pretrain --steps 2 --lr 2e-3 --sources spam --vocab-size 300 --hidden 16 --layers 1 --heads 2 --batch-size 4 --eval-blocks 4`,
    creates: [`${OUT}/pretrain/config.json`, `${OUT}/pretrain/model.safetensors`, `${OUT}/pretrain/tokenizer.json`],
  },
  "npx autolora --help": { expect: /Usage: autolora/ },
  "npm run kernel:install": {
    run: `npm run kernel:install -- --prefix ${OUT}/kernel`,
    creates: [`${OUT}/kernel/share/jupyter/kernels/autolora-ts/kernel.json`],
  },
  "npm run kernel:install -- --sys-prefix": { run: "npm run kernel:install -- --sys-prefix --dry-run", expect: /launch\.cjs/ },
  "npm run kernel:install -- --prefix DIR": {
    run: `npm run kernel:install -- --prefix ${OUT}/kernel`,
    creates: [`${OUT}/kernel/share/jupyter/kernels/autolora-ts/kernel.json`],
  },
  'npm run kernel:install -- --backend wasm --name autolora-ts-wasm --display-name "AutoLoRA (wasm)"': {
    run: `npm run kernel:install -- --backend wasm --name autolora-ts-wasm --display-name "AutoLoRA (wasm)" --prefix ${OUT}/kernel`,
    creates: [`${OUT}/kernel/share/jupyter/kernels/autolora-ts-wasm/kernel.json`],
  },
  "jupyter kernelspec list": {
    run: `JUPYTER_PATH=${OUT}/kernel/share/jupyter /usr/bin/python3 -m jupyter_client.kernelspecapp list`,
    expect: /autolora-ts/,
  },
  "jupyter notebook notebooks/": { skip: "starts a Jupyter server and waits for a browser" },
  "~/jl/bin/jupyter lab notebooks/": { skip: "starts a Jupyter server and waits for a browser" },
  "apt-get install jupyter-notebook jupyter-client python3-nbclient python3-nbconvert": {
    skip: "installs system packages from Debian's archive (CI's .ci/run does)",
  },
  "AUTOLORA_BACKEND=webgpu jupyter lab": { skip: "starts a Jupyter server and waits for a browser" },
  "npm run notebooks": { skip: "executes every tutorial (minutes): test/notebooks/notebooks.test.ts does it" },
  "node scripts/notebooks/run.mjs": { skip: "executes every tutorial (minutes): test/notebooks/notebooks.test.ts does it" },
  "node scripts/notebooks/run.mjs 01 --backend cpu": { skip: "the quickstart on the pure-JS cpu backend takes minutes; test/notebooks runs the tutorials" },
  "npm run docs": { skip: "typedoc and every tutorial rendered (minutes): test/docs/render.test.ts renders them" },
};

/** Shell lines of a block: comments and blank lines dropped. */
function shellLines(code: string): string[] {
  return code
    .split("\n")
    .map((l) => l.replace(/(^|\s)#.*$/, "").trim())
    .filter(Boolean);
}

function applyRewrites(b: DocBlock): string {
  let code = b.code;
  for (const r of REWRITES) {
    if (!b.id.startsWith(r.block)) continue;
    for (const [from, to] of r.replace) if (code.includes(from)) code = code.split(from).join(to);
  }
  return code;
}

/** The prelude of a block: the PRELUDE entries of its free names, dependencies first. */
function preludeOf(b: DocBlock, code: string): { code: string; names: string[] } {
  const table = { ...PRELUDE, ...Object.assign({}, ...PRELUDE_FOR.filter((p) => b.id.startsWith(p.block)).map((p) => p.entries)) } as typeof PRELUDE;
  const order: string[] = [];
  const add = (n: string) => {
    if (order.includes(n)) return;
    for (const d of table[n]!.needs ?? []) add(d);
    order.push(n);
  };
  for (const n of freeNames(code)) if (table[n]) add(n);
  return { code: order.map((n) => table[n]!.code).join("\n"), names: order };
}

interface BlockResult {
  typeErrors: string[];
  ran: boolean;
  error?: string;
  output: string;
}

/** Runs a command; resolves with exit code and output (stdout + stderr), killed after `timeoutMs`. */
function runCommand(
  cmd: string,
  args: string[],
  opts: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    let output = "";
    const child: ChildProcess = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const timer = setTimeout(() => {
      output += `\n[doc blocks] killed after ${opts.timeoutMs / 1000} s`;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    }, opts.timeoutMs);
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

/** Seconds the runners may take in all; blocks not started by then fail with "not reached". */
const RUN_BUDGET_S = 240; // 3.2× the 75 s the runners took in a fresh-clone CI run (2026-12-02)
/** Seconds one block may take before its runner is stopped (and a new one goes on with the rest). */
const BLOCK_LIMIT_S = 90;
/**
 * Imports each block in turn. Timers cannot stop a block (a tfjs loop of awaits on microtasks never
 * lets one fire), so the test watches the `@@START` lines and stops a runner that stays too long.
 */
const RUNNER = `
// Every block starts on the bundled default's backend (an example may switch to cpu, 30× slower).
const { useBackend } = await import("autolora");
let current;
process.on("unhandledRejection", (e) => { if (current) current.late = String(e?.message ?? e).split("\\n")[0]; });
for (const f of process.argv.slice(2)) {
  current = { f };
  process.stdout.write("\\n@@START " + f + "\\n");
  const t0 = Date.now();
  try {
    await useBackend("wasm");
    await import(new URL(f, "file://" + process.cwd() + "/").href);
  } catch (e) {
    current.error = (e?.name ?? "Error") + ": " + String(e?.message ?? e).split("\\n").slice(0, 3).join(" | ");
  }
  await new Promise((r) => setTimeout(r, 0));
  if (current.late && !current.error) current.error = "unhandled rejection: " + current.late;
  current.ms = Date.now() - t0;
  process.stdout.write("\\n@@DOCBLOCK " + JSON.stringify(current) + "\\n");
}
process.exit(0);
`;

const tsResults = new Map<string, BlockResult>();
const shellResults = new Map<string, { code: number | null; output: string }>();
let allBlocks: DocBlock[] = [];
let exportNames = new Map<string, string>();
let namespaced = new Map<string, string>();

function collect(): DocBlock[] {
  const md = [...MARKDOWN.flatMap((f) => markdownBlocks(ROOT, f)), ...MODEL_CARDS.flatMap((f) => markdownBlocks(ROOT, f).filter((b) => TS_LANGS.has(b.lang)))];
  const api = tsdocExamples(ROOT);
  exportNames = api.exports;
  namespaced = api.namespaced;
  const all = [...md, ...api.blocks];
  return FILTER.length ? all.filter((b) => FILTER.some((f) => b.id.includes(f.trim()))) : all;
}

async function runTsBlocks(blocks: DocBlock[]): Promise<void> {
  const dir = join(WORK, "blocks");
  mkdirSync(dir, { recursive: true });
  const files = new Map<string, DocBlock>();
  blocks.forEach((b, i) => {
    const code = applyRewrites(b);
    const prelude = preludeOf(b, code);
    let text = moduleOf(code, exportNames, prelude.code, namespaced);
    if (freeNames(code).has("tf") && !/from "@tensorflow\/tfjs"/.test(text)) text = `import * as tf from "@tensorflow/tfjs";\n${text}`;
    const name = `b${String(i).padStart(3, "0")}.ts`;
    writeFileSync(join(dir, name), `// ${b.id}${prelude.names.length ? ` (prelude: ${prelude.names.join(", ")})` : ""}\n${text}`);
    files.set(name, b);
    tsResults.set(b.id, { typeErrors: [], ran: false, output: "" });
  });
  writeFileSync(
    join(WORK, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        skipLibCheck: true,
        types: ["node"],
        outDir: "js",
        rootDir: ".",
        noEmitOnError: false,
      },
      include: ["blocks/*.ts"],
    }),
  );
  const tsc = await runCommand(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: WORK, timeoutMs: 150_000 });
  for (const line of tsc.output.split("\n")) {
    const m = /^blocks\/(b\d+\.ts)\((\d+),\d+\): (error .*)$/.exec(line.trim());
    if (m) tsResults.get(files.get(m[1]!)!.id)!.typeErrors.push(`line ${m[2]} of tmp/doc-blocks/blocks/${m[1]}: ${m[3]}`);
  }
  const runnable = [...files]
    .filter(([, b]) => tsResults.get(b.id)!.typeErrors.length === 0 && !notRun(b.id))
    .map(([f]) => `js/blocks/${f.replace(/\.ts$/, ".js")}`);
  writeFileSync(join(WORK, "runner.mjs"), RUNNER);
  // Two supervised runners (blocks dealt alternately), each a process of its own (tfjs state is per process).
  const deadline = Date.now() + RUN_BUDGET_S * 1000;
  const halves = [runnable.filter((_, i) => i % 2 === 0), runnable.filter((_, i) => i % 2 === 1)];
  const logs = await Promise.all(halves.map((h) => supervise(h, deadline)));
  logs.forEach((log, i) => writeFileSync(join(WORK, `runner-${i}.log`), log.log));
  for (const { results } of logs) {
    for (const [f, r] of results) {
      const b = files.get(f.replace(/^js\/blocks\//, "").replace(/\.js$/, ".ts"))!;
      Object.assign(tsResults.get(b.id)!, { ran: true, error: r.error, output: r.output.slice(-1500) });
    }
  }
}

/** Runs `files` through runner processes: one goes on where a stopped or crashed one left off. */
async function supervise(files: string[], deadline: number): Promise<{ results: Map<string, { error?: string; output: string }>; log: string }> {
  const results = new Map<string, { error?: string; output: string }>();
  let queue = [...files];
  let log = "";
  while (queue.length) {
    if (Date.now() > deadline) {
      for (const f of queue) results.set(f, { error: `not reached: the ${RUN_BUDGET_S} s of the runners were spent on the blocks before it`, output: "" });
      break;
    }
    await new Promise<void>((done) => {
      const child = spawn(process.execPath, ["runner.mjs", ...queue], {
        cwd: WORK,
        env: { ...process.env, AUTOLORA_BACKEND: "" },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      let current: string | undefined;
      let since = Date.now();
      let out = "";
      let buf = "";
      const finish = (f: string, error: string | undefined) => {
        results.set(f, { error, output: out });
        queue = queue.filter((q) => q !== f);
        current = undefined;
        out = "";
      };
      const watch = setInterval(() => {
        if (current && Date.now() - since > BLOCK_LIMIT_S * 1000) {
          finish(current, `still running after ${BLOCK_LIMIT_S} s: stopped (make the example smaller, or add a REWRITE)`);
          try {
            process.kill(-child.pid!, "SIGKILL");
          } catch {}
        }
      }, 500);
      const onData = (d: Buffer) => {
        log += d;
        buf += d;
        let nl = buf.indexOf("\n");
        while (nl >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith("@@START ")) {
            current = line.slice(8);
            since = Date.now();
            out = "";
          } else if (line.startsWith("@@DOCBLOCK ")) {
            const r = JSON.parse(line.slice(11)) as { f: string; error?: string };
            if (r.f === current) finish(r.f, r.error);
          } else out += `${line}\n`;
          nl = buf.indexOf("\n");
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.on("close", (code, signal) => {
        clearInterval(watch);
        if (current) finish(current, `the runner process ended inside this block (${signal ?? `exit code ${code}`})`);
        else if (code !== 0 && !signal && queue.length) {
          // Died between blocks: give up on the rest rather than loop.
          for (const f of queue) results.set(f, { error: `not run: the runner exited with ${code}`, output: out });
          queue = [];
        }
        done();
      });
    });
  }
  return { results, log };
}

async function runShellBlocks(blocks: DocBlock[]): Promise<void> {
  for (const b of blocks) {
    for (const line of shellLines(b.code)) {
      const rule = SHELL[line];
      if (!rule) {
        // Only lines the table knows run: a new line could install, start a server or write anywhere.
        shellResults.set(`${b.id} $ ${line}`, {
          code: null,
          output: "not in the SHELL table of test/docs/blocks.test.ts: add how to run it (or why it is skipped)",
        });
        continue;
      }
      if (rule.skip) continue;
      const r = await runCommand("bash", ["-c", rule.run ?? line], { cwd: ROOT, timeoutMs: 120_000, env: { AUTOLORA_BACKEND: "" } });
      shellResults.set(`${b.id} $ ${line}`, r);
    }
  }
}

beforeAll(async () => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  // A copy, not a link: blocks write into datasets/ (the pretraining example writes roberta-tiny).
  cpSync(join(ROOT, "datasets"), join(WORK, "datasets"), { recursive: true });
  allBlocks = collectCached();
  if (!hasBuild) return;
  const ts = allBlocks.filter((b) => TS_LANGS.has(b.lang));
  const sh = allBlocks.filter((b) => SH_LANGS.has(b.lang));
  await Promise.all([runTsBlocks(ts), runShellBlocks(sh)]);
  // For reading after a run: every block's outcome.
  const summary = {
    ts: Object.fromEntries(
      [...tsResults].map(([id, r]) => [id, r.typeErrors.length ? { typeErrors: r.typeErrors } : r.error ? { error: r.error } : r.ran ? "ok" : "not run"]),
    ),
    sh: Object.fromEntries([...shellResults].map(([id, r]) => [id, r.code === 0 ? "ok" : { code: r.code, output: r.output.slice(-600) }])),
  };
  writeFileSync(join(WORK, "results.json"), JSON.stringify(summary, null, 1));
}, 540_000);

describe("relative links in README.md and docs/**/*.md", () => {
  const files = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? (e.name === "api" && dir === "docs" ? [] : files(`${dir}/${e.name}`)) : e.name.endsWith(".md") ? [`${dir}/${e.name}`] : [],
    );
  for (const file of ["README.md", ...files("docs")]) {
    it(`${file}: every relative link resolves to a file`, () => {
      const broken = relativeLinks(ROOT, file)
        .filter((l) => !existsSync(l.resolved))
        .map((l) => `${file}:${l.line} → ${l.target} (${relative(ROOT, l.resolved)} does not exist)`);
      expect(broken).toEqual([]);
    });
  }
});

describe.skipIf(!hasBuild)("documentation blocks", () => {
  it.skipIf(FILTER.length > 0)("finds the blocks (README, guides, the public API's @examples), and every REWRITE applies", () => {
    expect(allBlocks.filter((b) => b.file === "README.md").length).toBeGreaterThanOrEqual(5);
    expect(allBlocks.filter((b) => b.file.startsWith("sdk/")).length).toBeGreaterThan(100);
    for (const r of REWRITES) {
      for (const [from] of r.replace) {
        const hits = allBlocks.filter((b) => b.id.startsWith(r.block) && b.code.includes(from));
        expect(hits.length, `REWRITE "${from}" (${r.why}) matches no block starting ${r.block}`).toBeGreaterThan(0);
      }
    }
    const notCode = allBlocks.filter((b) => !TS_LANGS.has(b.lang) && !SH_LANGS.has(b.lang));
    for (const b of notCode) console.log(`[doc blocks] not code (fence language "${b.lang}"): ${b.id}`);
    for (const [line, rule] of Object.entries(SHELL)) if (rule.skip) console.log(`[doc blocks] skipped shell line \`${line}\`: ${rule.skip}`);
    // Every skip names a line some block has (a stale rule would hide nothing, but mislead).
    const lines = new Set(allBlocks.filter((b) => SH_LANGS.has(b.lang)).flatMap((b) => shellLines(b.code)));
    expect(Object.keys(SHELL).filter((l) => !lines.has(l))).toEqual([]);
  });

  // One test per block, named by where it is, made after collection (vitest collects before beforeAll).
  const ids = collectIds();
  for (const { id, kind } of ids) {
    it(`${kind} ${id}`, () => {
      if (kind === "ts") {
        const r = tsResults.get(id);
        expect(r, "block not collected").toBeDefined();
        expect(r!.typeErrors, "type errors").toEqual([]);
        if (notRun(id)) {
          console.log(`[doc blocks] ${id}: type-checked, not run: ${notRun(id)}`);
          return;
        }
        expect(r!.ran, `not run:\n${r!.output}`).toBe(true);
        expect(r!.error, `threw; its output:\n${r!.output}`).toBeUndefined();
      } else {
        const r = shellResults.get(id);
        expect(r, "did not run").toBeDefined();
        const line = id.slice(id.indexOf(" $ ") + 3);
        const rule = SHELL[line] ?? {};
        expect(r!.code, r!.output.slice(-2000)).toBe(0);
        if (rule.expect) expect(r!.output).toMatch(rule.expect);
        else expect(r!.output.trim().length, "printed nothing").toBeGreaterThan(0);
        for (const f of rule.creates ?? []) expect(existsSync(join(ROOT, f)), `${f} not written`).toBe(true);
      }
    });
  }
});

/** The test names: TS blocks by id, shell lines that run by `id $ line` (synchronous: Markdown only for shell). */
function collectIds(): { id: string; kind: "ts" | "sh" }[] {
  if (!hasBuild) return [];
  const out: { id: string; kind: "ts" | "sh" }[] = [];
  const blocks = collectCached();
  for (const b of blocks) {
    if (TS_LANGS.has(b.lang)) out.push({ id: b.id, kind: "ts" });
    else if (SH_LANGS.has(b.lang)) for (const l of shellLines(b.code)) if (!SHELL[l]?.skip) out.push({ id: `${b.id} $ ${l}`, kind: "sh" });
  }
  return out;
}

let cached: DocBlock[] | undefined;
function collectCached(): DocBlock[] {
  cached ??= collect();
  return cached;
}
