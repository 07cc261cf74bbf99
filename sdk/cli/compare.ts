/**
 * `autolora compare --task T --methods lora,dylora,adalora,adapter,full,autolora --seeds 3`:
 * writes `compare.md`, `compare.json` and `compare.html` (plotly, offline) to `--out`.
 * @module
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type BackendName, useBackend } from "../backend/index.js";
import { compare, comparisonFigure, toMarkdown } from "../compare/index.js";
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
  const modelDir = v.model ?? DEFAULT_MODELS.find((d) => existsSync(join(d, "config.json")))!;
  const t = getTask(v.task!, { dir: v["data-dir"] });
  const n = (x: string | undefined) => (x === undefined ? undefined : Number(x));
  const out = await compare({
    modelDir,
    task: t,
    methods: v.methods!.split(","),
    seeds: Number(v.seeds),
    epochs: Number(v.epochs),
    batchSize: Number(v["batch-size"]),
    maxLength: Number(v["max-length"]),
    lr: Number(v.lr),
    rank: Number(v.rank),
    maxTrain: n(v["max-train"]),
    maxDev: n(v["max-dev"]),
    onProgress: (note) => process.stderr.write(`${note}\n`),
  });
  const dir = resolve(v.out!);
  const command = `autolora compare ${argv.join(" ")}`;
  const md = `# ${t.name}: methods compared\n\nModel: \`${modelDir}\`, backend: ${backend.name}. Command: \`${command}\`\n\n${toMarkdown(out)}`;
  await writeFileAtomic(join(dir, "compare.md"), md);
  await writeFileAtomic(join(dir, "compare.json"), `${JSON.stringify({ command, ...out }, null, 2)}\n`);
  await saveHtml(comparisonFigure(out), join(dir, "compare.html"));
  process.stdout.write(md);
  return 0;
}
