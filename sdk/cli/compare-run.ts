/**
 * The work of `autolora compare` (sdk/cli/compare.ts has its flags): every input checked, then the
 * runs with a progress bar, the three files written (the completed runs only after a Ctrl-C).
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { useBackend } from "../backend/index.js";
import { type CompareResult, compare, comparisonFigure, pairedDifferences, runnerFor, summarize, toMarkdown, unknownMethod } from "../compare/index.js";
import { CheckpointError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { saveHtml } from "../viz/index.js";
import { type CommandContext, checkOutDir, EXIT, maxLengthFor, targetModulesOf, UsageError } from "./args.js";
import { checkData, readData } from "./data.js";
import type { CompareFlags } from "./flags.js";
import { ProgressBar } from "./progress.js";

type Saved = CompareResult & { command: string };

async function writeOutputs(dir: string, out: CompareResult, md: string, json: Record<string, unknown>): Promise<void> {
  await writeFileAtomic(join(dir, "compare.md"), md);
  await writeFileAtomic(join(dir, "compare.json"), `${JSON.stringify(json, null, 2)}\n`);
  await saveHtml(comparisonFigure(out), join(dir, "compare.html"));
}

/** Run `compare` with parsed flags; resolves to the exit code. */
export async function runCompare(v: CompareFlags, ctx: CommandContext, argv: readonly string[]): Promise<number> {
  const { log, signal } = ctx;
  const command = `autolora compare ${argv.join(" ")}`.trim();
  if (v.merge) {
    // Merge runs made by separate processes (e.g. one per seed) into one table.
    const parts = v.merge.map((d): Saved => {
      const f = join(d, "compare.json");
      if (!existsSync(f)) throw new CheckpointError(`--merge ${d}: no compare.json there; give folders written by autolora compare.`);
      try {
        const j = JSON.parse(readFileSync(f, "utf8")) as Saved;
        if (!Array.isArray(j.summaries)) throw new Error("no summaries");
        return j;
      } catch (e) {
        throw new CheckpointError(`--merge ${d}: ${f} is not a compare.json (${(e as Error).message}).`);
      }
    });
    checkMergeable(v.merge, parts);
    const methods = [...new Set(parts.flatMap((p) => p.summaries.map((x) => x.method)))];
    const runs = parts.flatMap((p) => p.summaries.flatMap((x) => x.runs));
    const summaries = summarize(runs, methods);
    // --baseline with --merge picks the method the others are paired with (runs made one method
    // per process each name their own method as baseline); without it, the first part's baseline.
    if (v.baseline !== undefined && !methods.includes(v.baseline))
      throw new UsageError(`--baseline ${v.baseline} is not one of the merged methods (${methods.join(",")}); name one of them.`);
    const dir = checkOutDir(v.out);
    const baseline = v.baseline ?? parts[0]!.options.baseline;
    const options = { ...parts[0]!.options, baseline, seeds: new Set(runs.map((r) => r.seed)).size };
    const merged: CompareResult = { options, summaries, paired: pairedDifferences(summaries, baseline) };
    // Many parts (one per method and seed) are named by their first command; compare.json lists all.
    const commands =
      parts.length <= 3
        ? parts.map((p) => `\`${p.command}\``).join(", ")
        : `${parts.length} runs like \`${parts[0]!.command}\` (compare.json lists every command)`;
    const md = `# ${merged.options.task}: methods compared\n\nModel: \`${merged.options.modelDir}\`. Made by ${commands}, merged with \`autolora compare --merge ${v.merge.join(",")} --out ${v.out}\`.\n\n${toMarkdown(merged)}`;
    await writeOutputs(dir, merged, md, { commands: parts.map((p) => p.command), ...merged });
    process.stdout.write(md);
    return EXIT.ok;
  }
  // Everything checked before any work.
  for (const m of v.methods) if (!runnerFor(m)) throw new UsageError(`--methods: ${unknownMethod(m)}`);
  if (v.baseline !== undefined && !v.methods.includes(v.baseline))
    throw new UsageError(`--baseline ${v.baseline} is not one of --methods (${v.methods.join(",")}); name one of them.`);
  const { modelDir, modelConfig } = checkData(v);
  const maxLength = maxLengthFor(v.maxLength, modelConfig);
  const dir = checkOutDir(v.out);
  const task = await readData(v);
  if (task.splits.dev.length === 0) {
    throw new UsageError(`compare scores every method on a dev set and ${task.name} has none: pass --dev (or a --train folder with a validation split).`);
  }

  const backend = await useBackend(v.backend ?? "auto");
  log(`backend: ${backend.name} (${backend.device})`);
  const runs = v.methods.length * v.seeds;
  log(`model: ${modelDir}\ntask: ${task.name}; ${v.methods.join(", ")} × ${v.seeds} seed${v.seeds === 1 ? "" : "s"} = ${runs} run${runs === 1 ? "" : "s"}`);
  const bar = new ProgressBar("compare", runs);
  const targets = targetModulesOf(v.targetModules);
  const out = await compare({
    modelDir,
    task,
    methods: v.methods,
    seeds: v.seeds,
    firstSeed: v.firstSeed,
    epochs: v.epochs,
    batchSize: v.batchSize,
    maxLength,
    lr: v.lr,
    rank: v.rank,
    ...(targets !== undefined ? { targetModules: targets } : {}),
    ...(v.curve ? { curve: true } : {}),
    ...(v.decode ? { decode: v.decode } : {}),
    ...(v.maxTrain !== undefined ? { maxTrain: v.maxTrain } : {}),
    ...(v.maxDev !== undefined ? { maxDev: v.maxDev } : {}),
    ...(v.baseline !== undefined ? { baseline: v.baseline } : {}),
    signal,
    onProgress: (p) => bar.update(p.done, `${p.method} seed ${p.seed}: ${p.note.replace(`${p.method} `, "")}`, p.fraction),
  });
  bar.done();
  const partial = out.interrupted
    ? `\n\n**Interrupted by Ctrl-C**: ${out.interrupted.completedRuns} of ${out.interrupted.plannedRuns} runs completed; the tables hold those only.`
    : "";
  const md = `# ${task.name}: methods compared\n\nModel: \`${modelDir}\`, backend: ${backend.name}. Command: \`${command}\`${partial}\n\n${toMarkdown({ ...out, interrupted: undefined })}`;
  if (out.summaries.length === 0) {
    log(`interrupted before the first run finished: nothing written.`);
    return EXIT.interrupted;
  }
  await writeOutputs(dir, out, md, { command, ...out });
  process.stdout.write(md);
  if (out.interrupted) {
    log(
      `interrupted: wrote the ${out.interrupted.completedRuns} completed of ${out.interrupted.plannedRuns} runs to ${dir} (compare.md, compare.json, compare.html).`,
    );
    return EXIT.interrupted;
  }
  log(`wrote ${join(dir, "compare.md")}, compare.json and compare.html`);
  return EXIT.ok;
}

/** Options that may differ between merged runs: which methods and seeds each ran, and its baseline. */
const PER_PART_OPTIONS = new Set(["methods", "seeds", "firstSeed", "baseline"]);

/**
 * Runs merged into one table must share their setting (task, model, budget, data sizes, rank, …),
 * and each (method, seed) may come from one folder only: a run counted twice would pair with
 * itself and shrink the interval. Throws a UsageError naming the folders otherwise.
 */
function checkMergeable(dirs: readonly string[], parts: readonly Saved[]): void {
  const setting = (p: Saved) => Object.fromEntries(Object.entries(p.options ?? {}).filter(([k]) => !PER_PART_OPTIONS.has(k)));
  const first = setting(parts[0]!);
  parts.forEach((p, i) => {
    const s = setting(p);
    for (const k of new Set([...Object.keys(first), ...Object.keys(s)]))
      if (JSON.stringify(first[k]) !== JSON.stringify(s[k]))
        throw new UsageError(
          `--merge: ${dirs[i]} ran with ${k} = ${JSON.stringify(s[k])}, ${dirs[0]} with ${JSON.stringify(first[k])}; merge only runs of one setting.`,
        );
  });
  const from = new Map<string, string>();
  parts.forEach((p, i) => {
    for (const r of p.summaries.flatMap((x) => x.runs)) {
      const key = `${r.method} seed ${r.seed}`;
      const prev = from.get(key);
      if (prev !== undefined) throw new UsageError(`--merge: ${key} is in both ${prev} and ${dirs[i]}; give each run once.`);
      from.set(key, dirs[i]!);
    }
  });
}
