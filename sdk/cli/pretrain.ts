/**
 * `autolora pretrain mlm|clm [options]`: pretrain a small RoBERTa-style encoder (masked LM) or
 * a GPT-2- or Llama-style decoder (causal LM, `--arch`) on the bundled corpus and write a Hugging Face checkpoint folder
 * with its BPE tokenizer and a model card (sdk/pretrain/). Ctrl-C stops after the current step and
 * writes the model as trained so far, marked as interrupted. The flags are here; the work is in
 * pretrain-run.ts, loaded when the flags are valid.
 * @module
 */
import { Argument, type Command, Option } from "commander";
import { CORPUS_SOURCES } from "../pretrain/corpus.js";
import {
  BACKENDS,
  type CommandContext,
  csvList,
  newCommand,
  nonEmpty,
  nonNegativeInt,
  nonNegativeNumber,
  positiveInt,
  positiveNumber,
  unitFraction,
} from "./args.js";
import type { PretrainFlags } from "./flags.js";

export type { PretrainFlags } from "./flags.js";

/** The `pretrain` subcommand. */
export function pretrainSubcommand(ctx: CommandContext, argv: readonly string[] = []): Command {
  const cmd = newCommand("pretrain")
    .description(
      "pretrain a tiny model on the bundled corpus (SOTU, Moby-Dick, SpamAssassin): mlm = RoBERTa-style encoder, clm = GPT-2- or Llama-style decoder (--arch); " +
        "corpus = write the corpus to one file (--out FILE), for a machine without the data packages",
    )
    .addArgument(new Argument("<objective>", "what to pretrain").choices(["mlm", "clm", "corpus"]))
    .option("--out <path>", "checkpoint folder (mlm, clm) or corpus file (corpus); required", nonEmpty)
    .addOption(new Option("--arch <name>", "decoder of clm: gpt2 (GPT2LMHeadModel) or llama (LlamaForCausalLM) (default: gpt2)").choices(["gpt2", "llama"]))
    .option("--hidden <n>", "hidden size (default: 128)", positiveInt)
    .option("--layers <n>", "layers (default: 4)", positiveInt)
    .option("--heads <n>", "attention heads; must divide --hidden (default: 4)", positiveInt)
    .option("--kv-heads <n>", "key/value heads of --arch llama; must divide --heads (default: heads / 2)", positiveInt)
    .option("--intermediate <n>", "feed-forward width (default: 4 × hidden; llama: ⅔ of that, rounded up to a multiple of 8)", positiveInt)
    .option("--vocab-size <n>", "BPE vocabulary: 5 special tokens + 256 bytes + merges (default: 4096)", positiveInt)
    .option("--block-size <n>", "tokens per training block = the model's max length (default: 64)", positiveInt)
    .option("--steps <n>", "training steps (default: 1000)", positiveInt)
    .option("--batch-size <n>", "blocks per step (default: 32)", positiveInt)
    .option("--lr <x>", "peak learning rate, linear warm-up then linear decay (default: 1e-3)", positiveNumber)
    .option("--warmup-ratio <x>", "warm-up share of the steps, in [0, 1) (default: 0.06)", unitFraction)
    .option("--weight-decay <x>", "AdamW decay on matrices (default: 0.01)", nonNegativeNumber)
    .option("--dropout <x>", "dropout while pretraining, in [0, 1) (default: 0; the saved config says 0.1)", unitFraction)
    .option("--eval-blocks <n>", "held-out blocks for the eval loss (default: 128)", positiveInt)
    .addOption(new Option("--sources <a,b>", `corpus sources: ${CORPUS_SOURCES.join(", ")} (default: all)`).argParser(csvList))
    .option("--corpus <file>", "read the corpus from FILE (written by `autolora pretrain corpus`), not the packages", nonEmpty)
    .option("--seed <n>", "seed (default: 0)", nonNegativeInt)
    .option("--log-every <n>", "progress line every N steps (default: 25)", positiveInt)
    .addOption(new Option("--backend <name>", "tfjs backend").choices(BACKENDS).default("wasm"))
    .action(async (kind: "mlm" | "clm" | "corpus", flags: PretrainFlags) => {
      // The SDK (tfjs and all) loads only now: --help and a mistyped flag answer at once.
      const { runPretrain } = await import("./pretrain-run.js");
      ctx.code = await runPretrain(kind, flags, ctx, argv);
    });
  return cmd;
}
