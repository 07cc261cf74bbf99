/**
 * `autolora compare --task T --methods lora,dylora,adalora,adapter,full,autolora --seeds 3`:
 * writes `compare.md`, `compare.json` and `compare.html` (plotly, offline) to `--out`, with the
 * same progress bar as `search`. Ctrl-C stops after the current step and writes the completed runs.
 * The flags are here; the work is in compare-run.ts, loaded when the flags are valid.
 * @module
 */
import type { Command } from "commander";
import { backendOption, type CommandContext, csvList, newCommand, nonNegativeInt, positiveInt, positiveNumber } from "./args.js";
import { addDataOptions } from "./data.js";
import type { CompareFlags } from "./flags.js";

/**
 * The methods `compare` runs, for the help text without loading the SDK (a test checks that
 * this list is `RUNNERS`' keys; `--methods` is checked against `RUNNERS` itself).
 */
export const COMPARE_METHODS = [
  "lora",
  "lora-grid",
  "dylora",
  "adalora",
  "adapter",
  "full",
  "autolora",
  "autolora-sigmoid",
  "autolora-unconstrained",
  "autolora-first-order",
  "autolora-authors",
] as const;

export type { CompareFlags } from "./flags.js";

/** The `compare` subcommand. */
export function compareCommand(ctx: CommandContext, argv: readonly string[] = []): Command {
  const cmd = newCommand("compare").description(
    "methods side by side on one task with one budget and the same seeds; writes compare.md, compare.json and compare.html to --out",
  );
  addDataOptions(cmd);
  cmd
    .option("--methods <a,b>", `methods to run: ${COMPARE_METHODS.join(", ")}; <method>@<rank> gives one its own rank (lora@1,lora@8)`, csvList, [
      "lora",
      "adapter",
      "full",
      "autolora",
    ])
    .option("--seeds <n>", "seeds per method (10: enough for a 95% interval of the paired differences to mean something)", positiveInt, 10)
    .option("--baseline <method>", "method the others are compared with seed by seed (default: lora when it runs, else the first)")
    .option("--first-seed <n>", "seeds run are first-seed … first-seed + seeds − 1", nonNegativeInt, 0)
    .option("--epochs <n>", "training budget of every method, in epochs", positiveInt, 1)
    .option("--batch-size <n>", "examples per step", positiveInt, 16)
    .option("--max-length <n>", "tokens per example (default: 64, or the model's maximum if smaller)", positiveInt)
    .option("--lr <x>", "learning rate (full fine-tuning uses lr/10)", positiveNumber, 1e-3)
    .option("--rank <n>", "LoRA-family rank budget (r, rMax, k; AdaLoRA starts at 1.5r)", positiveInt, 8)
    .option(
      "--decode <n>",
      "causal-LM tasks: score N dev examples by greedy decoding with the task's metrics (exact_match, BLEU, …), not the dev loss",
      positiveInt,
    )
    .option("--curve", "also report the dev metric after every epoch (AutoLoRA: of its retraining): is the budget on a plateau?")
    .option("--target-modules <a,b>", "layers the LoRA family adapts: module-name suffixes, or all-linear (default: the architecture's)", csvList)
    .option(
      "--merge <dirs>",
      "merge the compare.json of runs made separately (comma-separated folders; one setting, each run once) into one table, paired with --baseline; runs nothing",
      csvList,
    )
    .option("--out <dir>", "output folder (created)", "runs/compare")
    .addOption(backendOption("auto"))
    .action(async (flags: CompareFlags) => {
      // The SDK (tfjs and all) loads only now: --help and a mistyped flag answer at once.
      const { runCompare } = await import("./compare-run.js");
      ctx.code = await runCompare(flags, ctx, argv);
    });
  return cmd;
}
