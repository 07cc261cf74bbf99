// The `autolora` command end to end on the tiny fixture: search → ranks → retrain → results.json +
// a PEFT adapter that loads back; compare writes its three files; and a table of bad inputs, each
// run as the built bin (`node dist/cli/main.js`, once through a symlink as npm's .bin makes it):
// exit 2 with one line and no stack, nothing written.

import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { COMPARE_METHODS } from "../../sdk/cli/compare.js";
import { main } from "../../sdk/cli/main.js";
import { RUNNERS } from "../../sdk/compare/index.js";
import { loadPeftAdapter } from "../../sdk/methods/lora/index.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { spawnAsync } from "../helpers/spawn.js";

const TINY = "datasets/fixtures/hf/tiny-bert-seqcls";
const BIN = resolve("dist/cli/main.js");
const tmp = mkdtempSync(join(tmpdir(), "cli-"));

/**
 * Run the built bin; `bin` may be a symlink to it; `node` options go before it. Killed after
 * `timeout` ms: 10 s, the budget of a refused input (a run that loads a backend gets more).
 */
function cli(args: string[], bin = BIN, node: string[] = [], timeout = 10_000) {
  const r = spawnSync(process.execPath, [...node, bin, ...args], { encoding: "utf8", timeout, env: { ...process.env, AUTOLORA_BACKEND: "" } });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** {@link cli} without blocking this worker, for runs that load a backend (test/helpers/spawn.ts says why). */
async function cliAsync(args: string[], bin = BIN, node: string[] = [], timeout = 60_000): Promise<ReturnType<typeof cli>> {
  const r = await spawnAsync(process.execPath, [...node, bin, ...args], { timeout, env: { AUTOLORA_BACKEND: "" } });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  // The tests run the built CLI: build it when dist/ is missing (npm test does not build).
  if (!existsSync(BIN)) spawnSync("npm", ["run", "build"], { stdio: "inherit" });
  writeFileSync(join(tmp, "afile"), "not a folder");
  writeFileSync(join(tmp, "texts.csv"), "text\nhello there\nall good\n");
  writeFileSync(join(tmp, "reviews.csv"), "review,stars\ngreat,pos\nawful,neg\n");
}, 120_000);

describe("autolora CLI", () => {
  it("search writes results.json and a PEFT adapter with the ranks it found", async () => {
    const out = mkdtempSync(join(tmpdir(), "cli-search-"));
    const code = await main([
      "search",
      "--model",
      TINY,
      "--task",
      "spam",
      "--max-train",
      "48",
      "--max-dev",
      "24",
      "--steps",
      "3",
      "--batch-size",
      "8",
      "--out",
      out,
      "--backend",
      "wasm",
      "--seed",
      "1",
    ]);
    expect(code).toBe(0);
    const r = JSON.parse(await readFile(join(out, "results.json"), "utf8"));
    expect(r.steps).toBe(3);
    expect(r.ranks).toHaveLength(4);
    expect(r.alphas).toHaveLength(4);
    expect(r.metric.split).toBe("dev");
    expect(Object.keys(r.metric.metrics)).toContain("f1");
    expect(r.searchMs).toBeGreaterThan(0);
    expect(r.retrainMs).toBeGreaterThan(0);
    const cfg = JSON.parse(await readFile(join(out, "adapter", "adapter_config.json"), "utf8"));
    for (const { name, rank } of r.ranks) if (rank > 0) expect(cfg.rank_pattern[name]).toBe(rank);
    const model = await loadPretrained(TINY, { head: "sequence-classification", numLabels: 2 });
    await loadPeftAdapter(model, join(out, "adapter"));
    const n = model.params.list((p) => p.role === "adapter").reduce((s, p) => s + p.variable.size, 0);
    expect(n).toBe(r.ranks.reduce((s: number, x: { rank: number }) => s + x.rank * 64, 0));
    expect(r.trainableParams).toBe(n + 2 * 32 + 2);
    model.dispose();
    expect(tf.getBackend()).toBe("wasm");
  });

  it("search reads --train/--dev files with the column flags (and their pair column)", async () => {
    const out = join(tmp, "cols-out");
    const rows = (n: number) => Array.from({ length: n }, (_, i) => `"q ${i} ${i % 2 ? "good" : "bad"}","s ${i}",${i % 2 ? "yes" : "no"},x`).join("\n");
    writeFileSync(join(tmp, "pairs-train.csv"), `first,second,verdict,other\n${rows(16)}\n`);
    writeFileSync(join(tmp, "pairs-dev.csv"), `first,second,verdict,other\n${rows(6)}\n`);
    const flags = ["--train", join(tmp, "pairs-train.csv"), "--dev", join(tmp, "pairs-dev.csv"), "--text-column", "first", "--pair-column", "second"];
    const code = await main([
      "search",
      "--model",
      TINY,
      ...flags,
      "--label-column",
      "verdict",
      "--steps",
      "1",
      "--batch-size",
      "8",
      "--out",
      out,
      "--backend",
      "wasm",
    ]);
    expect(code).toBe(0);
    const r = JSON.parse(await readFile(join(out, "results.json"), "utf8"));
    expect(r.task).toContain("pairs-train.csv");
    expect(Object.keys(r.metric.metrics)).toEqual(["accuracy", "f1"]); // two classes: "no", "yes"
    // A column that is not there is refused, naming the columns the file has.
    const bad = cli(["search", "--model", TINY, ...flags, "--label-column", "nope", "--out", join(tmp, "cols-bad")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/no column "nope".*"first", "second", "verdict", "other"/);
    expect(existsSync(join(tmp, "cols-bad"))).toBe(false);
  });

  it("search reads a Hub folder (validation split as dev) and a regression JSONL (pair columns, --task-type)", async () => {
    const hub = join(tmp, "hub-out");
    const common = ["--model", TINY, "--steps", "1", "--batch-size", "4", "--backend", "wasm"];
    expect(await main(["search", ...common, "--train", "datasets/fixtures/formats/hub", "--out", hub])).toBe(0);
    const h = JSON.parse(await readFile(join(hub, "results.json"), "utf8"));
    expect(h.metric.split).toBe("dev"); // the folder's validation split, not D_val
    const sts = join(tmp, "stsb-out");
    expect(await main(["search", ...common, "--train", "datasets/fixtures/formats/stsb.jsonl", "--task-type", "regression", "--out", sts])).toBe(0);
    const r = JSON.parse(await readFile(join(sts, "results.json"), "utf8"));
    expect(Object.keys(r.metric.metrics)).toEqual(["pearson", "spearman"]);
    expect(r.task).toMatch(/stsb\.jsonl/);
  });

  it("compare writes Markdown, JSON (with per-layer ranks) and an offline plotly page", async () => {
    const out = mkdtempSync(join(tmpdir(), "cmp-"));
    const code = await main([
      "compare",
      "--model",
      TINY,
      "--task",
      "spam",
      "--methods",
      "lora,autolora",
      "--seeds",
      "2",
      "--max-train",
      "32",
      "--max-dev",
      "16",
      "--out",
      out,
      "--backend",
      "wasm",
    ]);
    expect(code).toBe(0);
    const md = await readFile(join(out, "compare.md"), "utf8");
    expect(md).toMatch(/\| lora \|/);
    expect(md).toMatch(/\| autolora \|/);
    expect(md).toContain("2 seeds");
    expect(md).not.toContain("cost vs AdaLoRA"); // AdaLoRA did not run: no column of dashes
    const json = JSON.parse(await readFile(join(out, "compare.json"), "utf8"));
    expect(json.summaries.map((s: { runs: unknown[] }) => s.runs.length)).toEqual([2, 2]);
    const [lora, auto] = json.summaries;
    expect(lora.ranks.map((l: { name: string }) => l.name)).toHaveLength(4);
    expect(lora.ranks.every((l: { bySeed: number[] }) => l.bySeed.every((x) => x === 8))).toBe(true);
    expect(auto.ranks).toHaveLength(4);
    for (const l of auto.ranks) expect(l.mean).toBeCloseTo((l.bySeed[0] + l.bySeed[1]) / 2, 12);
    for (const run of auto.runs) expect(run.ranks).toHaveLength(4);
    const html = await readFile(join(out, "compare.html"), "utf8");
    expect(html).toContain("Plotly");
    expect(html).not.toMatch(/<script[^>]+src=["']https?:/);
    // --merge: runs made separately, one table (here split by method into two folders).
    const byMethod = (m: string) => {
      const d = join(tmp, `only-${m}`);
      mkdirSync(d);
      const summaries = json.summaries.filter((x: { method: string }) => x.method === m);
      writeFileSync(join(d, "compare.json"), JSON.stringify({ ...json, options: { ...json.options, methods: [m], baseline: m }, summaries }));
      return d;
    };
    const [onlyLora, onlyAuto] = [byMethod("lora"), byMethod("autolora")];
    const merged = join(tmp, "merged");
    expect(await main(["compare", "--merge", `${onlyLora},${onlyAuto}`, "--out", merged])).toBe(0);
    const m = JSON.parse(await readFile(join(merged, "compare.json"), "utf8"));
    expect(m.summaries.map((s: { runs: unknown[] }) => s.runs.length)).toEqual([2, 2]);
    expect(m.summaries[0].mean).toBeCloseTo(lora.mean, 12);
    expect(m.paired[0].mean).toBeCloseTo(json.paired[0].mean, 12);
    // A run given twice, or runs of different settings, are refused before anything is written.
    expect(await main(["compare", "--merge", `${out},${onlyLora}`, "--out", join(tmp, "twice")])).toBe(2);
    const other = join(tmp, "other-epochs");
    mkdirSync(other);
    writeFileSync(join(other, "compare.json"), JSON.stringify({ ...json, options: { ...json.options, epochs: 9, methods: ["lora"] }, summaries: [] }));
    expect(await main(["compare", "--merge", `${onlyAuto},${other}`, "--out", join(tmp, "mixed")])).toBe(2);
    expect(existsSync(join(tmp, "twice")) || existsSync(join(tmp, "mixed"))).toBe(false);
    expect(await readFile(join(merged, "compare.md"), "utf8")).toContain("merged with `autolora compare --merge");
    expect(m.paired.map((d: { baseline: string; method: string }) => `${d.method}-${d.baseline}`)).toEqual(["autolora-lora"]);
    // --baseline picks the pairing of merged runs (per-method processes each name their own).
    const rebased = join(tmp, "rebased");
    expect(await main(["compare", "--merge", out, "--baseline", "autolora", "--out", rebased])).toBe(0);
    const r = JSON.parse(await readFile(join(rebased, "compare.json"), "utf8"));
    expect(r.options.baseline).toBe("autolora");
    expect(r.paired.map((d: { baseline: string; method: string }) => `${d.method}-${d.baseline}`)).toEqual(["lora-autolora"]);
    expect(r.paired[0].mean).toBeCloseTo(-m.paired[0].mean, 12);
    expect(await main(["compare", "--merge", out, "--baseline", "dylora", "--out", join(tmp, "bad")])).toBe(2);
    expect(existsSync(join(tmp, "bad"))).toBe(false);
  });

  it("--help of the program and each subcommand: usage and exit codes, exit 0", () => {
    for (const [args, usage] of [
      [["--help"], "Usage: autolora <command>"],
      [["search", "--help"], "Usage: autolora search"],
      [["compare", "--help"], "Usage: autolora compare"],
      [["pretrain", "--help"], "Usage: autolora pretrain"],
      [["help", "search"], "Usage: autolora search"],
    ] as const) {
      const r = cli([...args]);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout).toContain(usage);
      expect(r.stdout).toMatch(/Exit codes:[\s\S]*\b2 +usage or input error/);
      expect(r.stderr).toBe("");
    }
  });

  // Each bad input: exit 2, one `error:` line (plus a usage line after an unknown flag or command),
  // no stack frame, nothing written under its --out.
  const cases: { name: string; args: (out: string) => string[]; message: RegExp }[] = [
    { name: "unknown flag", args: (o) => ["search", "--stepz", "3", "--out", o], message: /unknown option '--stepz' \(did you mean --steps\?\)/ },
    { name: "--steps abc", args: (o) => ["search", "--steps", "abc", "--out", o], message: /--steps.*'abc' is invalid.*integer > 0/ },
    { name: "--steps 0", args: (o) => ["search", "--steps", "0", "--out", o], message: /--steps.*'0' is invalid/ },
    { name: "--steps -5", args: (o) => ["search", "--steps", "-5", "--out", o], message: /--steps.*'-5' is invalid/ },
    { name: "--steps=-5", args: (o) => ["search", "--steps=-5", "--out", o], message: /--steps.*'-5' is invalid/ },
    { name: "--steps 1.5", args: (o) => ["search", "--steps", "1.5", "--out", o], message: /--steps.*'1.5' is invalid/ },
    { name: "--threshold 5", args: (o) => ["search", "--model", TINY, "--threshold", "5", "--out", o], message: /--threshold 5 is out of range for softmax/ },
    {
      name: "--threshold 1 under sigmoid",
      args: (o) => ["search", "--model", TINY, "--selection", "sigmoid", "--threshold", "1", "--out", o],
      message: /--threshold 1 is out of range for sigmoid/,
    },
    { name: "--threshold abc", args: (o) => ["search", "--threshold", "abc", "--out", o], message: /--threshold.*'abc' is invalid.*'mean'/ },
    { name: "--inner-lr -1", args: (o) => ["search", "--inner-lr", "-1", "--out", o], message: /--inner-lr.*finite number > 0/ },
    { name: "--selection bogus", args: (o) => ["search", "--selection", "bogus", "--out", o], message: /Allowed choices are softmax, sigmoid, unconstrained/ },
    {
      name: "--max-length above the model's",
      args: (o) => ["search", "--model", TINY, "--max-length", "100000", "--out", o],
      message: /--max-length 100000 is more than/,
    },
    { name: "--out under a file", args: () => ["search", "--model", TINY, "--out", join(tmp, "afile", "sub")], message: /afile is a file, not a folder/ },
    { name: "missing model folder", args: (o) => ["search", "--model", join(tmp, "no-model"), "--out", o], message: /--model .*no-model: no such folder/ },
    {
      name: "missing train file",
      args: (o) => ["search", "--model", TINY, "--train", join(tmp, "nope.csv"), "--out", o],
      message: /--train .*nope.csv: no such file/,
    },
    { name: "a text-only CSV", args: (o) => ["search", "--model", TINY, "--train", join(tmp, "texts.csv"), "--out", o], message: /no label column/ },
    {
      name: "--task and --train",
      args: (o) => ["search", "--model", TINY, "--task", "spam", "--train", join(tmp, "reviews.csv"), "--out", o],
      message: /either --task or --train/,
    },
    {
      name: "--text-column with a task",
      args: (o) => ["search", "--model", TINY, "--text-column", "x", "--out", o],
      message: /--text-column applies to --train/,
    },
    { name: "--task-type bogus", args: (o) => ["search", "--task-type", "bogus", "--out", o], message: /Allowed choices are classification, regression/ },
    { name: "unknown task", args: (o) => ["search", "--model", TINY, "--task", "nope", "--out", o], message: /Unknown task "nope"/ },
    { name: "unknown subcommand", args: () => ["frobnicate"], message: /unknown command 'frobnicate'/ },
    { name: "help for an unknown command", args: () => ["help", "bogus"], message: /unknown command 'bogus'; the commands are search, compare/ },
    { name: "extra argument", args: (o) => ["search", "oops", "--out", o], message: /too many arguments/ },
    { name: "compare: unknown method", args: (o) => ["compare", "--model", TINY, "--methods", "lora,magic", "--out", o], message: /unknown method "magic"/ },
    { name: "compare --seeds 0", args: (o) => ["compare", "--seeds", "0", "--out", o], message: /--seeds.*'0' is invalid/ },
    { name: "compare: --out under a file", args: () => ["compare", "--model", TINY, "--out", join(tmp, "afile", "x")], message: /is a file/ },
    { name: "pretrain without --out", args: () => ["pretrain", "mlm"], message: /--out is required/ },
    { name: "pretrain: unknown objective", args: (o) => ["pretrain", "xyz", "--out", o], message: /'xyz' is invalid.*mlm, clm, corpus/ },
    {
      name: "pretrain: heads do not divide hidden",
      args: (o) => ["pretrain", "mlm", "--hidden", "10", "--heads", "3", "--out", o],
      message: /hidden 10 must be a multiple of heads 3/,
    },
    { name: "pretrain --lr 0", args: (o) => ["pretrain", "clm", "--lr", "0", "--out", o], message: /--lr.*'0' is invalid/ },
    { name: "pretrain: unknown source", args: (o) => ["pretrain", "mlm", "--sources", "sotu,wiki", "--out", o], message: /unknown source "wiki"/ },
  ];
  it.each(cases)("bad input: $name → exit 2, one line, nothing written", ({ args, message }) => {
    const out = join(tmp, `out-${Math.random().toString(36).slice(2)}`);
    const r = cli(args(out));
    expect(r.signal, "finished within 10 s").toBeNull();
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines.filter((l) => l.startsWith("error: "))).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[0]).toMatch(message);
    expect(lines.length).toBeLessThanOrEqual(2);
    if (lines.length === 2) expect(lines[1]).toMatch(/^usage: autolora /);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).toBe("");
    expect(existsSync(out)).toBe(false);
  });

  it("an error after the wasm backend loaded: our line and exit code, not Node's exit 7 and a line of minified source", async () => {
    // Weights that do not parse: refused by the loader, after the backend is up.
    const bad = join(tmp, "bad-weights");
    mkdirSync(bad, { recursive: true });
    for (const f of ["config.json", "tokenizer.json"]) copyFileSync(join(TINY, f), join(bad, f));
    writeFileSync(join(bad, "model.safetensors"), "not safetensors");
    const out = join(tmp, "bad-weights-out");
    const r = await cliAsync(["search", "--model", bad, "--max-train", "8", "--backend", "wasm", "--out", out]);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines.filter((l) => l.startsWith("error: "))).toEqual([expect.stringMatching(/model\.safetensors/)]);
    expect(r.stderr).not.toMatch(/^\s+at |\^\^\^/m);
    expect(existsSync(out)).toBe(false);
    // A rejection nobody awaits, once the wasm backend is up and the search runs (its first
    // progress line). Keyed on that line, not on the wasm module's own rethrowing handlers being
    // present: the backend removes those once it has loaded (test/backend/wasm-handlers.test.ts),
    // so a poll for them can miss the moment (a CI run never saw it and ran to its timeout).
    const errors = pathToFileURL(resolve("dist/core/errors.js")).href;
    const stray = (make: string) =>
      `data:text/javascript,import { DataError } from ${JSON.stringify(errors)}; const w = process.stderr.write.bind(process.stderr); let sent = false; process.stderr.write = (c, ...a) => { if (!sent && String(c).includes("search [")) { sent = true; setTimeout(() => Promise.reject(${make}), 0); } return w(c, ...a); };`;
    const args = ["search", "--model", TINY, "--max-train", "8", "--steps", "1000", "--backend", "wasm", "--out", join(tmp, "stray-out")];
    const user = await cliAsync(args, BIN, ["--import", stray(`new DataError("a stray mistake")`)]);
    expect(user.code, user.stderr).toBe(2);
    expect(user.stderr.trimEnd().split("\n").at(-1)).toBe("error: a stray mistake");
    const bug = await cliAsync(args, BIN, ["--import", stray(`new TypeError("a stray bug")`)]);
    expect(bug.code, bug.stderr).toBe(1);
    expect(bug.stderr).toContain("internal error (please report): TypeError: a stray bug");
  });

  it("runs through a symlink, as npm's node_modules/.bin and npx do", () => {
    const bin = join(tmp, "bin");
    mkdirSync(bin, { recursive: true });
    const link = join(bin, "autolora");
    symlinkSync(BIN, link);
    const help = cli(["--help"], link);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: autolora <command>");
    const bad = cli(["search", "--steps", "0"], link);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: .*--steps/);
  });

  it("compare's help lists exactly the methods compare knows", () => {
    expect([...COMPARE_METHODS]).toEqual([...RUNNERS.keys()]);
  });

  it("--version prints the package's version", () => {
    const r = cli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync("package.json", "utf8")).version);
  });

  it("no arguments: the overview on stdout, exit 2", () => {
    const r = cli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/search[\s\S]*compare[\s\S]*pretrain/);
  });
});
