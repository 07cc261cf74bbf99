/**
 * `autolora compare --task T --methods lora,dylora,adalora,adapter,full,autolora --seeds 3`:
 * writes `compare.md`, `compare.json` and `compare.html` (plotly, offline) to `--out`.
 * @module
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type BackendName, useBackend } from "../backend/index.js";
import { compare, comparisonFigure, summarize, toMarkdown } from "../compare/index.js";
import { writeFileAtomic } from "../core/fs.js";
import { task as getTask } from "../data/index.js";
import { saveHtml } from "../viz/index.js";
import { DEFAULT_MODELS, DEFAULT_TASK } from "./defaults.js";

/** Run the `compare` subcommand; resolves to the exit code. */
export async function compareCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" },
      task: { type: "string", default: DEFAULT_TASK },
      "data-dir": { type: "string" },
      methods: { type: "string", default: "lora,adapter,full,autolora" },
      seeds: { type: "string", default: "3" },
      "first-seed": { type: "string", default: "0" },
      merge: { type: "string" },
      epochs: { type: "string", default: "1" },
      "batch-size": { type: "string", default: "16" },
      "max-length": { type: "string", default: "64" },
      lr: { type: "string", default: "1e-3" },
      rank: { type: "string", default: "8" },
      "max-train": { type: "string" },
      "max-dev": { type: "string" },
      out: { type: "string", default: "runs/compare" },
      backend: { type: "string" },
    },
  });
  const backend = await useBackend((v.backend as BackendName | undefined) ?? "auto");
  process.stderr.write(`backend: ${backend.name} (${backend.device})\n`);
  const dir = resolve(v.out!);
  if (v.merge) {
    // Merge runs made by separate processes (e.g. one per seed) into one table.
    const parts = await Promise.all(
      v.merge
        .split(",")
        .map(async (d) => JSON.parse(await readFile(join(d, "compare.json"), "utf8")) as Awaited<ReturnType<typeof compare>> & { command: string }),
    );
    const methods = parts[0]!.summaries.map((x) => x.method);
    const merged = {
      options: { ...parts[0]!.options, seeds: parts.reduce((n, p) => n + p.options.seeds, 0) },
      summaries: summarize(
        parts.flatMap((p) => p.summaries.flatMap((x) => x.runs)),
        methods,
      ),
    };
    const commands = parts.map((p) => `\`${p.command}\``).join(", ");
    const md = `# ${merged.options.task}: methods compared\n\nModel: \`${merged.options.modelDir}\`. Made by ${commands}, merged with \`autolora compare --merge ${v.merge} --out ${v.out}\`.\n\n${toMarkdown(merged)}`;
    await writeFileAtomic(join(dir, "compare.md"), md);
    await writeFileAtomic(join(dir, "compare.json"), `${JSON.stringify({ commands: parts.map((p) => p.command), ...merged }, null, 2)}\n`);
    await saveHtml(comparisonFigure(merged), join(dir, "compare.html"));
    process.stdout.write(md);
    return 0;
  }
  const modelDir = v.model ?? DEFAULT_MODELS.find((d) => existsSync(join(d, "config.json")))!;
  const t = getTask(v.task!, { dir: v["data-dir"] });
  const n = (x: string | undefined) => (x === undefined ? undefined : Number(x));
  const out = await compare({
    modelDir,
    task: t,
    methods: v.methods!.split(","),
    seeds: Number(v.seeds),
    firstSeed: Number(v["first-seed"]),
    epochs: Number(v.epochs),
    batchSize: Number(v["batch-size"]),
    maxLength: Number(v["max-length"]),
    lr: Number(v.lr),
    rank: Number(v.rank),
    maxTrain: n(v["max-train"]),
    maxDev: n(v["max-dev"]),
    onProgress: (note) => process.stderr.write(`${note}\n`),
  });
  const command = `autolora compare ${argv.join(" ")}`;
  const md = `# ${t.name}: methods compared\n\nModel: \`${modelDir}\`, backend: ${backend.name}. Command: \`${command}\`\n\n${toMarkdown(out)}`;
  await writeFileAtomic(join(dir, "compare.md"), md);
  await writeFileAtomic(join(dir, "compare.json"), `${JSON.stringify({ command, ...out }, null, 2)}\n`);
  await saveHtml(comparisonFigure(out), join(dir, "compare.html"));
  process.stdout.write(md);
  return 0;
}
