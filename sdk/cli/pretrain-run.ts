/**
 * The work of `autolora pretrain` (sdk/cli/pretrain.ts has its flags): options and files checked,
 * then the corpus or the pretraining.
 * @module
 */
import { useBackend } from "../backend/index.js";
import { buildCorpus, CORPUS_SOURCES, type CorpusSource, saveCorpus } from "../pretrain/corpus.js";
import { type PretrainKind, type PretrainOptions, pretrain, pretrainDefaults } from "../pretrain/pipeline.js";
import { type CommandContext, checkInput, checkOutDir, checkOutFile, EXIT, UsageError } from "./args.js";
import type { PretrainFlags } from "./flags.js";

/** Run `pretrain` with its objective and parsed flags; resolves to the exit code. */
export async function runPretrain(kind: "mlm" | "clm" | "corpus", v: PretrainFlags, ctx: CommandContext, argv: readonly string[]): Promise<number> {
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
    ...(v.arch ? { arch: v.arch } : {}),
    ...(v.kvHeads ? { kvHeads: v.kvHeads } : {}),
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
