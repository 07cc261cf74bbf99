/**
 * `autolora pretrain mlm|clm [options]`: pretrain a small RoBERTa-style encoder (masked LM) or
 * GPT-2-style decoder (causal LM) on the bundled corpus and write a Hugging Face checkpoint folder
 * with its BPE tokenizer and a model card (sdk/pretrain/).
 * @module
 */
import { parseArgs } from "node:util";
import { type BackendName, useBackend } from "../backend/index.js";
import { AutoLoraError, ConfigError } from "../core/errors.js";
import { buildCorpus, CORPUS_SOURCES, type CorpusSource, saveCorpus } from "../pretrain/corpus.js";
import { type PretrainKind, pretrain } from "../pretrain/pipeline.js";

/** Help text of `autolora pretrain`. */
export const PRETRAIN_HELP = `autolora pretrain — pretrain a tiny model on the bundled corpus (SOTU, Moby-Dick, SpamAssassin)

usage:
  autolora pretrain mlm --out datasets/models/roberta-tiny [options]   RoBERTa-style encoder, masked LM
  autolora pretrain clm --out datasets/models/gpt2-tiny [options]      GPT-2-style decoder, causal LM
  autolora pretrain corpus --out FILE [--sources a,b]                  write the corpus to one file, for
                                                                       a machine without the data packages

model:
  --hidden N           hidden size; default 128
  --layers N           default 4
  --heads N            default 4
  --intermediate N     feed-forward width; default 4 × hidden
  --vocab-size N       BPE vocabulary (5 special tokens + 256 bytes + merges); default 4096
  --block-size N       tokens per training block = model max length; default 64
training:
  --steps N            default 1000
  --batch-size N       blocks per step; default 32
  --lr X               peak learning rate; default 1e-3 (linear warm-up, then linear decay)
  --warmup-ratio X     default 0.06
  --weight-decay X     default 0.01
  --dropout X          dropout while pretraining; default 0 (the saved config says 0.1)
  --eval-blocks N      held-out blocks for the eval loss; default 128
  --sources a,b        corpus sources (${CORPUS_SOURCES.join(", ")}); default all
  --corpus FILE        read the corpus from FILE (written by \`autolora pretrain corpus\`), not the packages
  --seed N             default 0
  --log-every N        progress line every N steps; default 25
output:
  --out DIR            checkpoint folder (config.json, model.safetensors, tokenizer.json, README.md)
  --backend B          auto | tensorflow | webgpu | wasm | cpu; default wasm
`;

/**
 * Run `autolora pretrain` with the arguments after `pretrain`. Resolves to the exit code (0 done,
 * 1 a user error, reported on stderr, 2 bad usage).
 *
 * @example
 * ```ts
 * const code = await pretrainCommand(["clm", "--out", "runs/gpt2-tiny", "--steps", "50"]);
 * ```
 */
export async function pretrainCommand(argv: string[]): Promise<number> {
  const [kind, ...rest] = argv;
  if (!kind || kind === "--help" || kind === "-h" || kind === "help") {
    process.stdout.write(PRETRAIN_HELP);
    return kind ? 0 : 2;
  }
  if (kind !== "mlm" && kind !== "clm" && kind !== "corpus") {
    process.stderr.write(`autolora pretrain: unknown objective "${kind}" (use mlm, clm or corpus)\n\n${PRETRAIN_HELP}`);
    return 2;
  }
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: rest,
      options: Object.fromEntries(
        [
          "out",
          "hidden",
          "layers",
          "heads",
          "intermediate",
          "vocab-size",
          "block-size",
          "steps",
          "batch-size",
          "lr",
          "warmup-ratio",
          "weight-decay",
          "dropout",
          "eval-blocks",
          "sources",
          "seed",
          "backend",
          "log-every",
          "corpus",
        ].map((k) => [k, { type: "string" as const }]),
      ),
    }).values as Record<string, string | undefined>;
  } catch (e) {
    process.stderr.write(`autolora pretrain: ${(e as Error).message}\n\n${PRETRAIN_HELP}`);
    return 2;
  }
  if (!values.out) {
    process.stderr.write(`autolora pretrain: --out DIR is required\n\n${PRETRAIN_HELP}`);
    return 2;
  }
  const log = (s: string) => process.stderr.write(`${s}\n`);
  try {
    const num = (k: string): number | undefined => {
      const v = values[k];
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n)) throw new ConfigError(`--${k} must be a number, got "${v}".`);
      return n;
    };
    const sources = values.sources?.split(",").map((s) => s.trim()) as CorpusSource[] | undefined;
    if (kind === "corpus") {
      const corpus = buildCorpus({ sources });
      await saveCorpus(corpus, values.out);
      log(`wrote ${values.out}: ${corpus.documents.length} documents, ${JSON.stringify(corpus.chars)} chars, held out ${JSON.stringify(corpus.heldOut)}`);
      return 0;
    }
    const backend = await useBackend((values.backend ?? "wasm") as BackendName);
    log(`backend: ${backend.name} (${backend.device})`);
    const r = await pretrain({
      kind: kind as PretrainKind,
      out: values.out,
      hidden: num("hidden"),
      layers: num("layers"),
      heads: num("heads"),
      intermediate: num("intermediate"),
      vocabSize: num("vocab-size"),
      blockSize: num("block-size"),
      steps: num("steps"),
      batchSize: num("batch-size"),
      lr: num("lr"),
      warmupRatio: num("warmup-ratio"),
      weightDecay: num("weight-decay"),
      dropout: num("dropout"),
      evalBlocks: num("eval-blocks"),
      sources,
      seed: num("seed"),
      logEvery: num("log-every"),
      corpusFile: values.corpus,
      command: ["autolora", "pretrain", ...argv.filter((_, i) => !["--backend", "--corpus"].includes(argv[i - 1]!) && !["--backend", "--corpus"].includes(argv[i]!))].join(" "),
      log,
    });
    log(
      `wrote ${r.dir}: ${r.parameters} parameters, ${r.steps} steps, final train loss ${r.finalLoss.toFixed(4)}, ` +
        `held-out loss ${r.evalLoss.final.toFixed(4)} (tokenizer ${r.seconds.tokenizer.toFixed(0)} s, training ${r.seconds.training.toFixed(0)} s)`,
    );
    return 0;
  } catch (e) {
    if (e instanceof AutoLoraError) {
      log(`autolora pretrain: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
