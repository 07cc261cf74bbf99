/**
 * Pretraining loops: masked-LM for a RoBERTa-style encoder (RoBERTa's conventions: 15% of the
 * tokens chosen, 80% of those replaced by `<mask>`, 10% by a random token, 10% kept; dynamic
 * masking, a new mask every time a block is seen) and causal LM for a decoder (GPT-2 or Llama). Both
 * train every parameter with AdamW (decay on matrices only), linear warm-up and decay, and
 * gradient clipping, from a seeded generator, so a run is reproducible on one backend.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, NonFiniteError } from "../core/errors.js";
import type { Rng } from "../core/rng.js";
import type { EncoderModel } from "../models/encoder.js";
import { crossEntropyLoss, IGNORE_INDEX } from "../models/heads.js";
import { activation, type ForwardContext, layerNorm, type Model, type Param } from "../models/module.js";
import { AdamW } from "../train/adamw.js";
import { makeSchedule } from "../train/schedule.js";

/** Options of {@link maskTokens}. */
export interface MaskOptions {
  /** Id of `<mask>`. */
  maskTokenId: number;
  /** Ids `0..firstNormalId−1` are special: never chosen, never drawn as random replacements. */
  firstNormalId: number;
  vocabSize: number;
  /** Fraction of tokens chosen; default 0.15. */
  maskProb?: number;
}

/**
 * RoBERTa/BERT masking of one block: each non-special token is chosen with probability
 * `maskProb`; a chosen token becomes `<mask>` (80%), a random normal token (10%) or stays (10%),
 * and its label is the original id (−100 elsewhere).
 *
 * @example
 * ```ts
 * const { inputIds, labels } = maskTokens([0, 50, 51, 52, 2], new Rng(0), { maskTokenId: 4, firstNormalId: 5, vocabSize: 4096 });
 * ```
 */
export function maskTokens(block: readonly number[], rng: Rng, o: MaskOptions): { inputIds: number[]; labels: number[] } {
  const p = o.maskProb ?? 0.15;
  const inputIds = [...block];
  const labels = block.map(() => IGNORE_INDEX);
  block.forEach((id, i) => {
    if (id < o.firstNormalId) return;
    if (rng.uniform() >= p) return;
    labels[i] = id;
    const u = rng.uniform();
    if (u < 0.8) inputIds[i] = o.maskTokenId;
    else if (u < 0.9) inputIds[i] = rng.int(o.firstNormalId, o.vocabSize - 1);
  });
  return { inputIds, labels };
}

/** Names of RoBERTa's masked-LM head parameters (HF `RobertaLMHead`; the decoder is tied to the word embeddings). */
export const MLM_HEAD_PARAMS = ["lm_head.dense.weight", "lm_head.dense.bias", "lm_head.layer_norm.weight", "lm_head.layer_norm.bias", "lm_head.bias"] as const;

/**
 * Add HF's `RobertaLMHead` parameters to an encoder's store (role `head`): `lm_head.dense`
 * (`normal(0, initializer_range)`, zero bias), `lm_head.layer_norm` (ones, zeros) and the output
 * bias `lm_head.bias` (zeros); the output matrix is the word embedding (tied, as in HF).
 *
 * @example
 * ```ts
 * const cfg = { model_type: "roberta", vocab_size: 300, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 } as const;
 * const model = createModel(cfg, { head: "token-classification", numLabels: 1 });
 * if (!(model instanceof EncoderModel)) throw new Error("a roberta config builds an encoder");
 * addMlmHead(model, new Rng(0));
 * model.params.get("lm_head.dense.weight").shape; // [16, 16]
 * ```
 */
export function addMlmHead(model: EncoderModel, rng: Rng): void {
  const h = model.config.hidden_size;
  const v = model.config.vocab_size;
  const std = model.config.initializer_range;
  const dense = new Float32Array(h * h);
  for (let i = 0; i < dense.length; i++) dense[i] = std * rng.normal();
  tf.tidy(() => {
    model.params.add("lm_head.dense.weight", tf.tensor2d(dense, [h, h]), "head");
    model.params.add("lm_head.dense.bias", tf.zeros([h]), "head");
    model.params.add("lm_head.layer_norm.weight", tf.ones([h]), "head");
    model.params.add("lm_head.layer_norm.bias", tf.zeros([h]), "head");
    model.params.add("lm_head.bias", tf.zeros([v]), "head");
  });
}

/**
 * Masked-LM loss of a batch: the encoder's hidden states at the masked positions only (labels ≠
 * −100) go through `lm_head` (dense, GELU, LayerNorm, tied decoder + bias), cross-entropy against
 * the original ids. Call inside `tf.tidy` or dispose the result.
 *
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/models/roberta-tiny");
 * if (!(model instanceof EncoderModel)) throw new Error("roberta-tiny is an encoder");
 * addMlmHead(model, new Rng(0));
 * // <s> <mask> … </s>: position 1 is masked (its original id was 50); −100: not predicted
 * const loss = tf.tidy(() => mlmLoss(model, [[0, 4, 51, 52, 2]], [[-100, 50, -100, -100, -100]], { training: false }));
 * loss.dataSync()[0]; // cross-entropy at the masked position (the lm_head is fresh, untrained)
 * ```
 */
export function mlmLoss(model: EncoderModel, inputIds: number[][], labels: number[][], ctx: ForwardContext): tf.Scalar {
  const b = inputIds.length;
  const t = inputIds[0]!.length;
  const positions: number[] = [];
  const targets: number[] = [];
  labels.forEach((row, i) =>
    row.forEach((y, j) => {
      if (y !== IGNORE_INDEX) {
        positions.push(i * t + j);
        targets.push(y);
      }
    }),
  );
  return tf.tidy(() => {
    if (positions.length === 0) return tf.scalar(0);
    const ids = tf.tensor2d(inputIds, [b, t], "int32");
    const hidden = model.encode({ inputIds: ids, attentionMask: tf.onesLike(ids) }, ctx);
    const h = model.config.hidden_size;
    const s = model.params;
    const picked = tf.gather(hidden.reshape([b * t, h]), tf.tensor1d(positions, "int32"));
    let x = tf.add(tf.matMul(picked, s.get("lm_head.dense.weight"), false, true), s.get("lm_head.dense.bias"));
    x = layerNorm(s, "lm_head.layer_norm", activation("gelu", x), model.config.layer_norm_eps);
    const logits = tf.add(tf.matMul(x, s.get(`${model.prefix}.embeddings.word_embeddings.weight`), false, true), s.get("lm_head.bias"));
    return crossEntropyLoss(logits, tf.tensor1d(targets, "int32"));
  });
}

/**
 * Causal-LM loss of a batch of full blocks (every position predicts the next id; no padding), for
 * any causal-LM model (GPT-2, Llama family).
 *
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/models/gpt2-tiny");
 * if (!(model instanceof DecoderModel)) throw new Error("gpt2-tiny is a decoder");
 * const loss = tf.tidy(() => clmLoss(model, [[0, 17, 18, 19]], { training: false }));
 * loss.dataSync()[0]; // mean next-token cross-entropy
 * ```
 */
export function clmLoss(model: Model, inputIds: number[][], ctx: ForwardContext): tf.Scalar {
  return tf.tidy(() => {
    const ids = tf.tensor2d(inputIds, [inputIds.length, inputIds[0]!.length], "int32");
    return model.loss(model.forward({ inputIds: ids, attentionMask: tf.onesLike(ids) }, ctx), ids);
  });
}

/** Options of {@link runPretraining}. */
export interface LoopOptions {
  steps: number;
  /** Peak learning rate. */
  lr: number;
  /** Warm-up fraction of the steps (linear decay to 0 after). */
  warmupRatio: number;
  /** AdamW decay on matrices (rank ≥ 2); vectors (biases, LayerNorm) get none. */
  weightDecay: number;
  betas: [number, number];
  /** Global gradient-norm clip. */
  maxGradNorm: number;
  /** Called after every step. */
  onStep?: (step: number, loss: number, lr: number) => void;
  /** Checked before every step: true ends the loop there (the steps done stay applied). */
  shouldStop?: () => boolean;
}

/**
 * The optimisation loop shared by MLM and causal LM: `lossOf(step)` builds the step's loss (its
 * tensors are freed here), gradients of every listed parameter, clipping, AdamW. Returns the loss
 * of every step done: fewer than `steps` when `shouldStop` ended the loop early.
 *
 * @throws {@link NonFiniteError} when a loss is NaN/Inf (nothing is updated by that step).
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/models/gpt2-tiny");
 * if (!(model instanceof DecoderModel)) throw new Error("gpt2-tiny is a decoder");
 * const blocks = [[0, 17, 18, 19, 20, 21], [0, 22, 23, 24, 25, 26]];
 * const ctx = { training: true, rng: new Rng(0) };
 * const opts = { steps: 2, lr: 1e-4, warmupRatio: 0, weightDecay: 0.01, betas: [0.9, 0.98] as [number, number], maxGradNorm: 1 };
 * const losses = await runPretraining(model.params.list(), (s) => clmLoss(model, [blocks[s % 2]!], ctx), opts); // 2 losses
 * ```
 */
export async function runPretraining(params: readonly Param[], lossOf: (step: number) => tf.Scalar, o: LoopOptions): Promise<number[]> {
  if (!(Number.isInteger(o.steps) && o.steps > 0)) throw new ConfigError(`pretraining steps must be a positive integer, got ${o.steps}.`);
  const decay = params.filter((p) => p.variable.rank >= 2);
  const noDecay = params.filter((p) => p.variable.rank < 2);
  const opt = { lr: o.lr, betas: o.betas, eps: 1e-8 };
  const optA = new AdamW(decay, { ...opt, weightDecay: o.weightDecay });
  const optB = new AdamW(noDecay, { ...opt, weightDecay: 0 });
  const schedule = makeSchedule({ kind: "linear", totalSteps: o.steps, warmupRatio: o.warmupRatio });
  const vars = params.map((p) => p.variable);
  const losses: number[] = [];
  try {
    for (let step = 0; step < o.steps; step++) {
      if (o.shouldStop?.()) break;
      const lr = o.lr * schedule(step);
      const { value, grads } = tf.tidy(() => {
        const r = tf.engine().gradients(() => lossOf(step), vars, undefined, true);
        const present = r.grads.filter((g): g is tf.Tensor => g != null);
        const norm = tf.sqrt(tf.addN(present.map((g) => tf.sum(tf.square(g)))));
        const coef = tf.clipByValue(tf.div(o.maxGradNorm, tf.add(norm, 1e-6)), 0, 1);
        // plain objects (tidy keeps the tensors of objects and arrays, not of Maps)
        const a: Record<string, tf.Tensor> = {};
        const b: Record<string, tf.Tensor> = {};
        r.grads.forEach((g, i) => {
          if (g == null) return;
          const p = params[i]!;
          (p.variable.rank >= 2 ? a : b)[p.name] = tf.mul(g, coef);
        });
        return { value: r.value, grads: { a, b } } as unknown as tf.TensorContainerObject;
      }) as unknown as { value: tf.Scalar; grads: { a: Record<string, tf.Tensor>; b: Record<string, tf.Tensor> } };
      try {
        const loss = (await value.data())[0]!;
        if (!Number.isFinite(loss)) throw new NonFiniteError(`pretraining: the loss is ${loss} at step ${step + 1}; lower --lr or check the corpus.`);
        await optA.step(new Map(Object.entries(grads.a)), lr);
        await optB.step(new Map(Object.entries(grads.b)), lr);
        losses.push(loss);
        o.onStep?.(step + 1, loss, lr);
      } finally {
        tf.dispose([value, ...Object.values(grads.a), ...Object.values(grads.b)]);
      }
      // A macrotask turn per step: on cpu/wasm every await above resolves as a microtask, and
      // without this a Ctrl-C (a signal event) would never be seen until the loop ended.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    optA.dispose();
    optB.dispose();
  }
  return losses;
}
