/**
 * `autolora search`: the whole AutoLoRA pipeline — rank search (bilevel steps) → ranks → retrain
 * with those ranks → evaluate — with a progress bar on stderr; writes `results.json` and the
 * retrained adapter in PEFT format (`adapter/`) to `--out`. With no flags it runs on the bundled
 * model and task (no GPU, no internet). The flags are here; the work is in search-run.ts, loaded
 * when the flags are valid.
 * @module
 */
import { type Command, Option } from "commander";
import {
  backendOption,
  CLI_MAX_LENGTH,
  type CommandContext,
  csvList,
  newCommand,
  nonNegativeInt,
  positiveInt,
  positiveNumber,
  thresholdValue,
} from "./args.js";
import { addDataOptions } from "./data.js";
import type { SearchFlags } from "./flags.js";

export { type CommandContext, maxLengthFor, targetModulesOf } from "./args.js";

export type { SearchFlags } from "./flags.js";

/** The `search` subcommand. */
export function searchCommand(ctx: CommandContext): Command {
  const cmd = newCommand("search").description(
    "AutoLoRA end to end: search the rank of every LoRA layer, retrain with those ranks, evaluate; writes results.json and adapter/ to --out",
  );
  addDataOptions(cmd);
  cmd
    .option("--steps <n>", "meta-steps (inner + outer) (default: one epoch of D_tr)", positiveInt)
    .option("--max-rank <k>", "components per layer, k (default: 8)", positiveInt)
    .addOption(new Option("--selection <rule>", "how α is made from β (default: softmax)").choices(["softmax", "sigmoid", "unconstrained"]))
    .addOption(new Option("--hypergradient <kind>", "outer-gradient estimator (default: darts)").choices(["darts", "exact", "first-order"]))
    .addOption(new Option("--preset <name>", "defaults of the paper or of the authors' code (default: paper)").choices(["paper", "authors-code"]))
    .option("--inner-lr <x>", "learning rate of the LoRA weights (default: preset's)", positiveNumber)
    .option("--outer-lr <x>", "learning rate of β (default: preset's)", positiveNumber)
    .option("--batch-size <n>", "examples per step (default: preset's)", positiveInt)
    .option("--max-length <n>", `tokens per example (default: ${CLI_MAX_LENGTH}, or the model's maximum if smaller)`, positiveInt)
    .option("--seed <n>", "seed of everything random", nonNegativeInt, 0)
    .option("--target-modules <a,b>", "layers to adapt: module-name suffixes, or all-linear (default: the architecture's)", csvList)
    .option("--threshold <x>", "λ for the ranks: softmax (0, 1], sigmoid (0, 1), unconstrained any number, or 'mean' (default: 1/k, 0.5, mean)", thresholdValue)
    .option("--retrain-epochs <n>", "epochs of the retraining", positiveInt, 1)
    .option("--warm-start", "retrain from the surviving components instead of a fresh LoRA", false)
    .option("--out <dir>", "output folder (created)", "runs/search")
    .addOption(backendOption("auto"))
    .action(async (flags: SearchFlags) => {
      // The SDK (tfjs and all) loads only now: --help and a mistyped flag answer at once.
      const { runSearch } = await import("./search-run.js");
      ctx.code = await runSearch(flags, ctx);
    });
  return cmd;
}
