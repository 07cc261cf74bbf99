/**
 * Task heads on top of a transformer's hidden states, and their losses, with Hugging Face's
 * module names and semantics:
 *
 * | head | modules | reads |
 * | --- | --- | --- |
 * | BERT sequence classification | `bert.pooler.dense` (+tanh), `classifier` | token 0 |
 * | RoBERTa sequence classification | `classifier.dense` (+tanh), `classifier.out_proj` | token 0 |
 * | token classification | `classifier` | every token |
 * | GPT-2 / Llama-family sequence classification | `score` (no bias) | last non-pad token |
 * | GPT-2 causal LM | `lm_head`, tied to `transformer.wte` | every token |
| Llama-family causal LM | `lm_head` (llama.ts), or tied to `model.embed_tokens` | every token |
 *
 * Losses follow HF: MSE when `num_labels` is 1, else cross-entropy; −100 labels are ignored;
 * the causal-LM loss shifts by one position itself.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeMismatchError } from "../core/errors.js";
// softmax-family ops that stay differentiable twice (the exact hypergradient needs that)
import { logSoftmax, tanh } from "../ops/second-order.js";
import { dropout, type ForwardContext, type HeadKind, Linear, type ModelInputs, modelDropoutContext, type ParamSpec, type ParamStore } from "./module.js";

/** The label HF ignores in token-classification and causal-LM losses. */
export const IGNORE_INDEX = -100;

/**
 * A task head: its parameters, its linear layers, how it turns hidden states `[batch, length,
 * hidden]` into logits, and its loss.
 */
export interface Head {
  readonly kind: HeadKind;
  /** Output width: classes, 1 for regression, vocabulary size for a causal LM. */
  readonly numLabels: number;
  /** The head's module names: PEFT `modules_to_save` for this architecture. */
  readonly modules: string[];
  /** Parameters the head declares (a BERT pooler is `base`, as in HF; the rest `head`). */
  readonly specs: ParamSpec[];
  /** Its linear layers, to register in `model.linears`. */
  readonly linears: Linear[];
  forward(hidden: tf.Tensor, inputs: ModelInputs, ctx: ForwardContext): tf.Tensor;
  loss(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar;
}

/**
 * The specs of a linear layer's weight (`[out, in]`, or `[in, out]` for GPT-2's Conv1D) and bias.
 *
 * @example
 * ```ts
 * linearSpecs("classifier", 768, 2, 0.02, "head"); // classifier.weight [2, 768], classifier.bias [2]
 * ```
 */
export function linearSpecs(
  name: string,
  inF: number,
  outF: number,
  std: number,
  role: ParamSpec["role"],
  opts: { bias?: boolean; fanInFanOut?: boolean; optional?: boolean } = {},
): ParamSpec[] {
  const { bias = true, fanInFanOut = false, optional } = opts;
  const specs: ParamSpec[] = [{ name: `${name}.weight`, shape: fanInFanOut ? [inF, outF] : [outF, inF], role, init: "normal", std, optional }];
  if (bias) specs.push({ name: `${name}.bias`, shape: [outF], role, init: "zeros", optional });
  return specs;
}

/** What every head needs to know about the body it sits on. */
export interface HeadOptions {
  hidden: number;
  numLabels: number;
  /** Dropout before the classifier (`classifier_dropout ?? hidden_dropout_prob`). */
  dropout: number;
  /** `initializer_range`, for a freshly initialised head. */
  std: number;
}

/** hidden[:, 0, :] — the `[CLS]` / `<s>` token. */
function firstToken(hidden: tf.Tensor): tf.Tensor2D {
  const [b, , h] = hidden.shape as [number, number, number];
  return hidden.slice([0, 0, 0], [b, 1, h]).reshape([b, h]);
}

/**
 * `BertForSequenceClassification`: `bert.pooler.dense` + tanh on token 0, dropout, `classifier`.
 * The pooler is part of `BertModel` in HF, so its role is `base`; it is `optional` because MLM
 * checkpoints have none (HF then initialises it fresh, as we do).
 *
 * @example
 * ```ts
 * const head = bertSequenceHead(store, "bert", { hidden: 768, numLabels: 2, dropout: 0.1, std: 0.02 });
 * ```
 */
export function bertSequenceHead(store: ParamStore, prefix: string, o: HeadOptions): Head {
  const pooler = new Linear(store, `${prefix}.pooler.dense`, o.hidden, o.hidden);
  const classifier = new Linear(store, "classifier", o.hidden, o.numLabels);
  return {
    kind: "sequence-classification",
    numLabels: o.numLabels,
    modules: ["classifier"],
    specs: [
      ...linearSpecs(pooler.name, o.hidden, o.hidden, o.std, "base", { optional: true }),
      ...linearSpecs("classifier", o.hidden, o.numLabels, o.std, "head"),
    ],
    linears: [pooler, classifier],
    forward: (hidden, _inputs, ctx) =>
      tf.tidy(() => {
        const pooled = tanh(pooler.forward(firstToken(hidden), ctx));
        return classifier.forward(dropout(pooled, o.dropout, modelDropoutContext(ctx)), ctx);
      }),
    loss: (logits, labels) => sequenceClassificationLoss(logits, labels),
  };
}

/**
 * `RobertaForSequenceClassification`'s `RobertaClassificationHead` on token 0: dropout,
 * `classifier.dense`, tanh, dropout, `classifier.out_proj` (RoBERTa has no pooler).
 *
 * @example
 * ```ts
 * const head = robertaSequenceHead(store, { hidden: 768, numLabels: 1, dropout: 0.1, std: 0.02 });
 * ```
 */
export function robertaSequenceHead(store: ParamStore, o: HeadOptions): Head {
  const dense = new Linear(store, "classifier.dense", o.hidden, o.hidden);
  const outProj = new Linear(store, "classifier.out_proj", o.hidden, o.numLabels);
  return {
    kind: "sequence-classification",
    numLabels: o.numLabels,
    modules: ["classifier"],
    specs: [...linearSpecs(dense.name, o.hidden, o.hidden, o.std, "head"), ...linearSpecs(outProj.name, o.hidden, o.numLabels, o.std, "head")],
    linears: [dense, outProj],
    forward: (hidden, _inputs, ctx) =>
      tf.tidy(() => {
        const x = tanh(dense.forward(dropout(firstToken(hidden), o.dropout, modelDropoutContext(ctx)), ctx));
        return outProj.forward(dropout(x, o.dropout, modelDropoutContext(ctx)), ctx);
      }),
    loss: (logits, labels) => sequenceClassificationLoss(logits, labels),
  };
}

/**
 * `*ForTokenClassification`: dropout, then `classifier` on every token.
 *
 * @example
 * ```ts
 * const head = tokenClassificationHead(store, { hidden: 768, numLabels: 9, dropout: 0.1, std: 0.02 });
 * ```
 */
export function tokenClassificationHead(store: ParamStore, o: HeadOptions): Head {
  const classifier = new Linear(store, "classifier", o.hidden, o.numLabels);
  return {
    kind: "token-classification",
    numLabels: o.numLabels,
    modules: ["classifier"],
    specs: linearSpecs("classifier", o.hidden, o.numLabels, o.std, "head"),
    linears: [classifier],
    forward: (hidden, _inputs, ctx) => tf.tidy(() => classifier.forward(dropout(hidden, o.dropout, modelDropoutContext(ctx)), ctx)),
    loss: (logits, labels) => crossEntropyLoss(logits, labels),
  };
}

/**
 * `GPT2ForSequenceClassification`: `score` (no bias) on every token, read at the last token
 * whose attention mask is 1. (HF finds that token by `input_ids != pad_token_id`; with right
 * padding and a pad id that does not occur inside the text, both pick the same token, and the
 * mask also works when GPT-2 pads with its end-of-text token.) With `padTokenId` (the Llama
 * family), the last token whose id is not `padTokenId`, as transformers' generic head does.
 *
 * @example
 * ```ts
 * const head = lastTokenSequenceHead(store, { hidden: 768, numLabels: 2, dropout: 0, std: 0.02 });
 * ```
 */
export function lastTokenSequenceHead(store: ParamStore, o: HeadOptions, opts: { padTokenId?: number } = {}): Head {
  const score = new Linear(store, "score", o.hidden, o.numLabels, false);
  return {
    kind: "sequence-classification",
    numLabels: o.numLabels,
    modules: ["score"],
    specs: linearSpecs("score", o.hidden, o.numLabels, o.std, "head", { bias: false }),
    linears: [score],
    forward: (hidden, inputs, ctx) =>
      tf.tidy(() => {
        const logits = score.forward(hidden, ctx) as tf.Tensor3D; // [B, T, C]
        const t = logits.shape[1];
        // index of the last kept token in each row: argmax of keep * (position + 1); keep is the
        // mask, or (Llama family, transformers' GenericForSequenceClassification) id ≠ pad_token_id
        const keep =
          opts.padTokenId === undefined ? tf.cast(inputs.attentionMask, "float32") : tf.cast(tf.notEqual(inputs.inputIds, opts.padTokenId), "float32");
        const pos = tf.mul(keep, tf.range(1, t + 1));
        const pick = tf.oneHot(tf.argMax(pos, 1), t).expandDims(2); // [B, T, 1]
        return tf.sum(tf.mul(logits, pick), 1);
      }),
    loss: (logits, labels) => sequenceClassificationLoss(logits, labels),
  };
}

/**
 * GPT-2's `lm_head`: logits = hidden · `wteᵀ`, the token embedding reused (tied, so not stored in
 * checkpoints and not a separate parameter). It is not registered as a {@link Linear}: its weight
 * belongs to the embedding, so an adapter merged into it would change the input embeddings too.
 *
 * @example
 * ```ts
 * const head = tiedLmHead(store, "transformer.wte.weight", 50257);
 * ```
 */
export function tiedLmHead(store: ParamStore, embeddingName: string, vocabSize: number): Head {
  return {
    kind: "causal-lm",
    numLabels: vocabSize,
    modules: [],
    specs: [],
    linears: [],
    forward: (hidden) =>
      tf.tidy(() => {
        const [b, t, h] = hidden.shape as [number, number, number];
        const logits = tf.matMul(hidden.reshape([b * t, h]), store.get(embeddingName), false, true);
        return logits.reshape([b, t, vocabSize]);
      }),
    loss: (logits, labels) => causalLmLoss(logits, labels),
  };
}

// ------------------------------------------------------------------------------------ losses

/**
 * Mean cross-entropy over the rows of `logits` (`[..., classes]`) whose label is not −100
 * (torch's `CrossEntropyLoss(ignore_index=-100)`); 0 when every label is ignored.
 *
 * @example
 * ```ts
 * crossEntropyLoss(tf.tensor2d([[2, 0], [0, 2]]), tf.tensor1d([0, -100], "int32")); // ≈ 0.127
 * ```
 */
export function crossEntropyLoss(logits: tf.Tensor, labels: tf.Tensor, ignoreIndex = IGNORE_INDEX): tf.Scalar {
  const c = logits.shape[logits.rank - 1]!;
  const rows = logits.size / c;
  if (labels.size !== rows) {
    throw new ShapeMismatchError(
      `cross-entropy got ${rows} rows of logits [${logits.shape}] but ${labels.size} labels [${labels.shape}]: give one class id (or −100) per row.`,
    );
  }
  return tf.tidy(() => {
    const y = tf.cast(labels.reshape([rows]), "int32");
    const valid = tf.notEqual(y, ignoreIndex);
    const safe = tf.where(valid, y, tf.zerosLike(y));
    const logp = logSoftmax(logits.reshape([rows, c]));
    const picked = tf.sum(tf.mul(logp, tf.oneHot(safe, c)), -1);
    const w = tf.cast(valid, "float32");
    return tf.div(tf.neg(tf.sum(tf.mul(picked, w))), tf.maximum(tf.sum(w), 1)) as tf.Scalar;
  });
}

/**
 * Mean squared error between `[batch, 1]` predictions and `[batch]` targets (HF regression).
 *
 * @example
 * ```ts
 * mseLoss(tf.tensor2d([[1], [2]]), tf.tensor1d([0, 2])); // 0.5
 * ```
 */
export function mseLoss(predictions: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  if (predictions.size !== targets.size) {
    throw new ShapeMismatchError(
      `regression got ${predictions.size} predictions [${predictions.shape}] but ${targets.size} targets [${targets.shape}]: give one float per example.`,
    );
  }
  return tf.tidy(() => tf.mean(tf.squaredDifference(predictions.reshape([-1]), tf.cast(targets, "float32").reshape([-1]))) as tf.Scalar);
}

/**
 * HF's sequence-classification loss: MSE when there is one output (regression), else
 * cross-entropy on class ids.
 *
 * @example
 * ```ts
 * const logits = tf.tensor2d([[2, 0, -1], [0, 1, 3]]); // [batch, 3 classes]
 * sequenceClassificationLoss(logits, tf.tensor1d([0, 2], "int32")).print(); // cross-entropy
 * sequenceClassificationLoss(tf.tensor2d([[1], [2]]), tf.tensor1d([0, 2])).print(); // one output: MSE, 0.5
 * ```
 */
export function sequenceClassificationLoss(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return logits.shape[logits.rank - 1] === 1 ? mseLoss(logits, labels) : crossEntropyLoss(logits, labels);
}

/**
 * Causal-LM loss: position t predicts label t+1 (the shift happens here, as in HF), −100
 * ignored. `logits` `[batch, length, vocab]`, `labels` `[batch, length]`.
 *
 * @example
 * ```ts
 * const logits = tf.randomNormal([1, 4, 10]); // [batch, length, vocab]
 * causalLmLoss(logits, tf.tensor2d([[5, 6, 7, -100]], undefined, "int32")).print(); // predicts 6, 7 from 5, 6
 * ```
 */
export function causalLmLoss(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  const [b, t, v] = logits.shape as [number, number, number];
  if (labels.rank !== 2 || labels.shape[0] !== b || labels.shape[1] !== t) {
    throw new ShapeMismatchError(
      `causal-LM labels have shape [${labels.shape}] but the logits are [${logits.shape}]: give labels [batch, length] (usually the input ids, −100 at padding).`,
    );
  }
  return tf.tidy(() => crossEntropyLoss(logits.slice([0, 0, 0], [b, t - 1, v]), labels.slice([0, 1], [b, t - 1])));
}
