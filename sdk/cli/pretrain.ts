/**
 * `autolora pretrain mlm|clm [options]`: pretrain a small RoBERTa-style encoder (masked LM) or
 * GPT-2-style decoder (causal LM) on the bundled corpus and write a Hugging Face checkpoint folder
 * with its BPE tokenizer and a model card (sdk/pretrain/). Ctrl-C stops after the current step and
 * writes the model as trained so far, marked as interrupted.
 * @module
 */
import { Argument, type Command, Option } from "commander";
import { type BackendName, useBackend } from "../backend/index.js";
import { buildCorpus, CORPUS_SOURCES, type CorpusSource, saveCorpus } from "../pretrain/corpus.js";
import { type PretrainKind, type PretrainOptions, pretrain, pretrainDefaults } from "../pretrain/pipeline.js";
import {
  BACKENDS,
  checkInput,
  checkOutDir,
  checkOutFile,
  csvList,
  EXIT,
  newCommand,
  nonEmpty,
  nonNegativeInt,
  nonNegativeNumber,
  positiveInt,
  positiveNumber,
  UsageError,
  unitFraction,
} from "./args.js";
import type { CommandContext } from "./search.js";

interface PretrainFlags {
  out?: string;
  hidden?: number;
  layers?: number;
  heads?: number;
  intermediate?: number;
  vocabSize?: number;
  blockSize?: number;
  steps?: number;
  batchSize?: number;
  lr?: number;
  warmupRatio?: number;
  weightDecay?: number;
  dropout?: number;
  evalBlocks?: number;
  sources?: string[];
  corpus?: string;
  seed?: number;
  logEvery?: number;
  backend: BackendName;
}

/** The `pretrain` subcommand. */
export function pretrainSubcommand(ctx: CommandContext, argv: readonly string[] = []): Command {
  const cmd = newCommand("pretrain")
    .description(
      "pretrain a tiny model on the bundled corpus (SOTU, Moby-Dick, SpamAssassin): mlm = RoBERTa-style encoder, clm = GPT-2-style decoder; " +
        "corpus = write the corpus to one file (--out FILE), for a machine without the data packages",
    )
    .addArgument(new Argument("<objective>", "what to pretrain").choices(["mlm", "clm", "corpus"]))
    .option("--out <path>", "checkpoint folder (mlm, clm) or corpus file (corpus); required", nonEmpty)
    .option("--hidden <n>", "hidden size (default: 128)", positiveInt)
    .option("--layers <n>", "layers (default: 4)", positiveInt)
    .option("--heads <n>", "attention heads; must divide --hidden (default: 4)", positiveInt)
    .option("--intermediate <n>", "feed-forward width (default: 4 × hidden)", positiveInt)
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
      ctx.code = await runPretrain(kind, flags, ctx, argv);
    });
  return cmd;
}

async function runPretrain(kind: "mlm" | "clm" | "corpus", v: PretrainFlags, ctx: CommandContext, argv: readonly string[]): Promise<number> {
  const { log, signal } = ctx;
  if (!v.out)
    throw new UsageError(`autolora pretrain ${kind}: --out is required (${kind === "corpus" ? "the corpus file" : "the checkpoint folder"} to write).`);
  const bad = v.sources?.filter((s) => !(CORPUS_SOURCES as readonly string[]).includes(s));
  if (bad?.length) throw new UsageError(`--sources: unknown source ${bad.map((s) => `"${s}"`).join(", ")}; known: ${CORPUS_SOURCES.join(", ")}.`);
  const sources = v.sources as CorpusSource[] | undefined;
  if (kind === "corpus") {
    checkOutFile(v.out);
    const corpus = buildCorpus(sources ? { sources } : {});
    await saveCorpus(corpus, v.out);
    log(`wrote ${v.out}: ${corpus.documents.length} documents, ${JSON.stringify(corpus.chars)} chars, held out ${JSON.stringify(corpus.heldOut)}`);
    return EXIT.ok;
  }
  const skip = new Set(["--backend", "--corpus"]);
  const opts: PretrainOptions = {
    kind: kind as PretrainKind,
    out: v.out,
    hidden: v.hidden,
    layers: v.layers,
    heads: v.heads,
    intermediate: v.intermediate,
    vocabSize: v.vocabSize,
    blockSize: v.blockSize,
    steps: v.steps,
    batchSize: v.batchSize,
    lr: v.lr,
    warmupRatio: v.warmupRatio,
    weightDecay: v.weightDecay,
    dropout: v.dropout,
    evalBlocks: v.evalBlocks,
    sources,
    seed: v.seed,
    logEvery: v.logEvery,
    corpusFile: v.corpus,
    // The command as run, without machine-specific flags (the model card records it).
    command: ["autolora", "pretrain", ...argv.filter((a, i) => !skip.has(argv[i - 1]!) && !skip.has(a) && ![...skip].some((s) => a.startsWith(`${s}=`)))].join(
      " ",
    ),
    log,
    signal,
  };
  // Everything checked before any work: the options (sizes fit together), the corpus file, --out.
  pretrainDefaults(opts);
  if (v.corpus) checkInput(v.corpus, "--corpus", "file");
  checkOutDir(v.out);
  const backend = await useBackend(v.backend);
  log(`backend: ${backend.name} (${backend.device})`);
  const r = await pretrain(opts);
  if (r.interrupted && r.steps === 0) {
    log("interrupted before the first training step: nothing written.");
    return EXIT.interrupted;
  }
  log(
    `wrote ${r.dir}: ${r.parameters} parameters, ${r.steps}${r.interrupted ? ` of ${r.interrupted.plannedSteps} (interrupted)` : ""} steps, final train loss ${r.finalLoss.toFixed(4)}, ` +
      `held-out loss ${r.evalLoss.final.toFixed(4)} (tokenizer ${r.seconds.tokenizer.toFixed(0)} s, training ${r.seconds.training.toFixed(0)} s)`,
  );
  return r.interrupted ? EXIT.interrupted : EXIT.ok;
}

/**
 * Run `autolora pretrain` with the arguments after `pretrain`, in this process. Resolves to the
 * exit code (0 done, 2 a usage or input error — reported on stderr in one line —, 1 a bug).
 *
 * @example
 * ```ts
 * const code = await pretrainCommand(["clm", "--out", "runs/gpt2-tiny", "--steps", "50"]);
 * ```
 */
export async function pretrainCommand(argv: string[]): Promise<number> {
  const { main } = await import("./main.js");
  return main(["pretrain", ...argv]);
}
