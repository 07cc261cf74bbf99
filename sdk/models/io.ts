/**
 * What every model does the same way, below the architectures that use it: {@link predictPlain}
 * (plain arrays in, logits out), {@link saveModel} (a Hugging Face checkpoint out) and
 * {@link HeadedModel}, the base of every architecture (body → head, loss, predict, save, dispose).
 * pretrained.ts builds the architectures, so none imports pretrained.ts (no import loop in sdk/models).
 * @module
 */
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { saveFailure } from "../core/confine.js";
import { ConfigError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import type { Head } from "./heads.js";
import type { ForwardContext, HeadKind, Linear, Model, ModelInputs, ParamStore, PlainInputs, SaveModelOptions } from "./module.js";
import { type StoredTensor, writeSafetensors } from "./safetensors.js";

/** The `torch_dtype` that names each stored dtype. */
const TORCH_DTYPE = { F32: "float32", F16: "float16", BF16: "bfloat16" } as const;

/**
 * Run a model on plain arrays (evaluation mode, no dropout) and read the logits back; every
 * tensor it makes is disposed.
 *
 * @example
 * ```ts
 * const logits = await predictPlain(model, { inputIds: [[2, 40, 3]] });
 * ```
 */
export async function predictPlain(model: Model, inputs: PlainInputs): Promise<number[][] | number[][][]> {
  const t = inputs.inputIds[0]?.length ?? 0;
  if (inputs.inputIds.length === 0 || t === 0 || inputs.inputIds.some((r) => r.length !== t)) {
    throw new ConfigError(
      "predict needs a non-empty rectangular batch of inputIds (pad the rows to one length, e.g. tokenizer.encodeBatch(texts, { padding: 'longest' })).",
    );
  }
  const logits = tf.tidy(() => {
    const inputIds = tf.tensor2d(inputs.inputIds, undefined, "int32");
    const attentionMask = inputs.attentionMask ? tf.tensor2d(inputs.attentionMask, undefined, "int32") : tf.onesLike(inputIds);
    const tokenTypeIds = inputs.tokenTypeIds ? tf.tensor2d(inputs.tokenTypeIds, undefined, "int32") : undefined;
    return model.forward({ inputIds, attentionMask, tokenTypeIds }, { training: false });
  });
  try {
    return (await logits.array()) as number[][] | number[][][];
  } finally {
    logits.dispose();
  }
}

/**
 * Write a model as a Hugging Face checkpoint: `config.json` (architecture and labels updated)
 * and `model.safetensors` with every `base` and `head` parameter (adapter and selection
 * parameters are not part of the base model; GPT-2's tied `lm_head` is not stored, as in HF).
 * Both files are written atomically. `model.architecture` names its HF class
 * (`BertForSequenceClassification`, …). `options.dtype` stores float weights as F16 or BF16
 * (rounded to nearest even) and says so in `config.json` (its `dtype` key if it has one, as
 * transformers 5 writes, else `torch_dtype`, which 4 and 5 read); the default is F32.
 *
 * @example
 * ```ts
 * await saveModel(model, "out/checkpoint"); // then loadPretrained("out/checkpoint")
 * ```
 */
export async function saveModel(model: Model & { readonly architecture: string }, dir: string, options: SaveModelOptions = {}): Promise<void> {
  const dtype = options.dtype ?? "F32";
  if (!(dtype in TORCH_DTYPE)) throw new ConfigError(`saveModel: dtype must be "F32", "F16" or "BF16", got ${JSON.stringify(dtype)}.`);
  const config: Record<string, unknown> = { ...model.config, architectures: [model.architecture] };
  // transformers 5 writes `dtype`, 4 wrote `torch_dtype` (5 still reads it): keep the config's own key.
  config["dtype" in config ? "dtype" : "torch_dtype"] = TORCH_DTYPE[dtype];
  if (model.head !== "causal-lm") {
    const old = model.config.id2label as Record<string, string> | undefined;
    const keep = old && Object.keys(old).length === model.numLabels;
    const id2label: Record<string, string> = {};
    for (let i = 0; i < model.numLabels; i++) id2label[String(i)] = keep ? (old[String(i)] ?? `LABEL_${i}`) : `LABEL_${i}`;
    config.id2label = id2label;
    config.label2id = Object.fromEntries(Object.entries(id2label).map(([k, v]) => [v, Number(k)]));
    delete config.num_labels; // HF derives it from id2label
  }
  const tensors = new Map<string, StoredTensor>();
  for (const p of model.params.list((q) => q.role === "base" || q.role === "head")) {
    tensors.set(p.name, { shape: [...p.variable.shape], data: Float32Array.from((await p.variable.data()) as Float32Array) });
  }
  try {
    await writeSafetensors(join(dir, "model.safetensors"), tensors, { dtype });
    await writeFileAtomic(join(dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  } catch (e) {
    throw saveFailure(e, dir);
  }
}

/**
 * The part of `Model` that every architecture shares once it has a body (hidden states `[batch,
 * length, hidden]`) and a {@link Head}: `forward` = head(body) in one `tidy`, the head's loss,
 * `predict` (plain arrays, {@link predictPlain}), `save` ({@link saveModel}) and `dispose` (the
 * parameters). An architecture (encoder.ts, decoder.ts, deberta.ts, llama.ts) extends it, builds
 * its parameters and `headImpl` in its constructor, and says what its body is.
 */
export abstract class HeadedModel {
  /** Every linear layer by module name (the body's and the head's): where adapters attach. */
  readonly linears = new Map<string, Linear>();

  /** @param head the head kind; @param params the store every parameter is declared in. */
  constructor(
    readonly head: HeadKind,
    readonly params: ParamStore,
  ) {}

  /** The HF class name written to `config.json` (`BertForSequenceClassification`, …). */
  abstract readonly architecture: string;
  protected abstract readonly headImpl: Head;
  /** Hidden states `[batch, length, hidden]` of the body (embeddings, blocks, final norm). */
  protected abstract body(inputs: ModelInputs, ctx: ForwardContext): tf.Tensor;

  /** Logits of the head on the body's hidden states. */
  forward(inputs: ModelInputs, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => this.headImpl.forward(this.body(inputs, ctx), inputs, ctx));
  }

  /**
   * The head's loss: MSE when `numLabels` is 1, else cross-entropy ignoring −100; for a causal LM,
   * logits at t are scored against labels at t + 1.
   */
  loss(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
    return this.headImpl.loss(logits, labels);
  }

  /** Logits as nested arrays, evaluation mode. */
  predict(inputs: PlainInputs): Promise<number[][] | number[][][]> {
    return predictPlain(this as unknown as Model, inputs);
  }

  /** Write `config.json` + `model.safetensors` (base and head parameters, HF names; a tied `lm_head` is not stored). */
  async save(dir: string, options: SaveModelOptions = {}): Promise<void> {
    await saveModel(this as unknown as Model & { readonly architecture: string }, dir, options);
  }

  dispose(): void {
    this.params.dispose();
  }
}
