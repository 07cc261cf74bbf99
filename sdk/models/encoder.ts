/**
 * BERT and RoBERTa encoders, matching Hugging Face `BertModel` / `RobertaModel` (eager
 * attention, fp32), with their classification heads. Parameters carry HF names
 * (`bert.encoder.layer.0.attention.self.query.weight`), and every linear layer is a
 * {@link Linear} in `model.linears`, so PEFT-style targets (`query`, `value`, `dense`) can attach
 * adapters to any of them.
 *
 * RoBERTa differs from BERT only in its position ids (counted from `pad_token_id + 1`, skipping
 * padding), its single token type, and its classification head.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../core/errors.js";
import { attention } from "../ops/nn.js";
import { bertSequenceHead, type Head, linearSpecs, robertaSequenceHead, tokenClassificationHead } from "./heads.js";
import { HeadedModel } from "./io.js";
import {
  activation,
  addParams,
  dropout,
  dropoutSeed,
  type ForwardContext,
  type HeadKind,
  Linear,
  layerNorm,
  type Model,
  type ModelConfig,
  type ModelInputs,
  modelDropoutContext,
  type ParamSource,
  type ParamSpec,
  ParamStore,
} from "./module.js";

/** The `config.json` fields a BERT/RoBERTa encoder reads (HF names; defaults are BERT-base's). */
export interface EncoderConfig extends ModelConfig {
  model_type: "bert" | "roberta";
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  /** `gelu` (exact erf), `gelu_new` (tanh approximation), `relu`, … */
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  pad_token_id: number;
  initializer_range: number;
  classifier_dropout?: number | null;
}

/**
 * Fill an encoder config's missing fields with HF's defaults (`BertConfig` / `RobertaConfig`)
 * and check it.
 *
 * @example
 * ```ts
 * const cfg = encoderConfig({ model_type: "roberta", architectures: [], vocab_size: 50265, max_position_embeddings: 514, type_vocab_size: 1, pad_token_id: 1 });
 * ```
 */
export function encoderConfig(raw: ModelConfig): EncoderConfig {
  const roberta = raw.model_type === "roberta";
  const cfg = {
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    intermediate_size: 3072,
    hidden_act: "gelu",
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    max_position_embeddings: 512,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    pad_token_id: roberta ? 1 : 0,
    initializer_range: 0.02,
    ...raw,
  } as EncoderConfig;
  for (const k of [
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
  ] as const) {
    if (!Number.isInteger(cfg[k]) || (cfg[k] as number) <= 0)
      throw new ConfigError(
        `config.json: ${k} must be a positive integer, got ${JSON.stringify(cfg[k])}. Fix the config or re-save the model with transformers.`,
      );
  }
  if (cfg.hidden_size % cfg.num_attention_heads !== 0) {
    throw new ConfigError(`config.json: hidden_size ${cfg.hidden_size} is not a multiple of num_attention_heads ${cfg.num_attention_heads}: fix one of them.`);
  }
  const pos = cfg.position_embedding_type ?? "absolute";
  if (pos !== "absolute")
    throw new ConfigError(
      `config.json: position_embedding_type "${pos}" is not supported; autolora's encoders use absolute position embeddings (BERT, RoBERTa).`,
    );
  return cfg;
}

/** One layer's linear modules, by role. */
interface EncoderLayer {
  name: string;
  query: Linear;
  key: Linear;
  value: Linear;
  attnOut: Linear;
  inter: Linear;
  out: Linear;
}

/**
 * A BERT or RoBERTa encoder with a sequence- or token-classification head.
 * Build it with `loadPretrained` / `createModel` (pretrained.ts), which supply the weights.
 *
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/fixtures/hf/tiny-bert-seqcls");
 * const tokenizer = await loadTokenizer("datasets/fixtures/hf/tiny-bert-seqcls");
 * const enc = tokenizer.encodeBatch(["a first text", "and a second, longer one"]); // padded to the longest
 * const inputIds = tf.tensor2d(enc.inputIds, undefined, "int32");
 * const attentionMask = tf.tensor2d(enc.attentionMask, undefined, "int32");
 * const logits = model.forward({ inputIds, attentionMask }, { training: false }); // [2, 3]
 * ```
 */
export class EncoderModel extends HeadedModel implements Model {
  readonly config: EncoderConfig;
  readonly headModules: string[];
  /** Number of outputs of the head (1: regression). */
  readonly numLabels: number;
  /** `bert` or `roberta`: the prefix of every body parameter. */
  readonly prefix: "bert" | "roberta";
  protected readonly headImpl: Head;
  private readonly layers: EncoderLayer[] = [];

  /**
   * @param source supplies every declared parameter's values (a checkpoint, or a seeded init).
   */
  constructor(config: ModelConfig, head: HeadKind, numLabels: number, source: ParamSource, store = new ParamStore()) {
    super(head, store);
    const c = encoderConfig(config);
    this.config = c;
    this.numLabels = numLabels;
    this.prefix = c.model_type;
    const p = this.prefix;
    const h = c.hidden_size;
    const std = c.initializer_range;
    const specs: ParamSpec[] = [
      { name: `${p}.embeddings.word_embeddings.weight`, shape: [c.vocab_size, h], role: "base", init: "normal", std, zeroRow: c.pad_token_id },
      {
        name: `${p}.embeddings.position_embeddings.weight`,
        shape: [c.max_position_embeddings, h],
        role: "base",
        init: "normal",
        std,
        zeroRow: p === "roberta" ? c.pad_token_id : undefined,
      },
      { name: `${p}.embeddings.token_type_embeddings.weight`, shape: [c.type_vocab_size, h], role: "base", init: "normal", std },
      ...layerNormSpecs(`${p}.embeddings.LayerNorm`, h),
    ];
    const lin = (name: string, inF: number, outF: number) => {
      const l = new Linear(store, name, inF, outF);
      this.linears.set(name, l);
      specs.push(...linearSpecs(name, inF, outF, std, "base"));
      return l;
    };
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const n = `${p}.encoder.layer.${i}`;
      const query = lin(`${n}.attention.self.query`, h, h);
      const key = lin(`${n}.attention.self.key`, h, h);
      const value = lin(`${n}.attention.self.value`, h, h);
      const attnOut = lin(`${n}.attention.output.dense`, h, h);
      specs.push(...layerNormSpecs(`${n}.attention.output.LayerNorm`, h));
      const inter = lin(`${n}.intermediate.dense`, h, c.intermediate_size);
      const out = lin(`${n}.output.dense`, c.intermediate_size, h);
      specs.push(...layerNormSpecs(`${n}.output.LayerNorm`, h));
      this.layers.push({ query, key, value, attnOut, inter, out, name: n });
    }
    const ho = { hidden: h, numLabels, dropout: c.classifier_dropout ?? c.hidden_dropout_prob, std };
    if (head === "sequence-classification") this.headImpl = p === "roberta" ? robertaSequenceHead(store, ho) : bertSequenceHead(store, p, ho);
    else if (head === "token-classification") this.headImpl = tokenClassificationHead(store, ho);
    else
      throw new ConfigError(`a ${p} encoder has no "${head}" head: use sequence-classification or token-classification, or a GPT-2 checkpoint for causal-lm.`);
    specs.push(...this.headImpl.specs);
    for (const l of this.headImpl.linears) this.linears.set(l.name, l);
    this.headModules = [...this.headImpl.modules];
    addParams(store, specs, source);
  }

  /** The HF class this model corresponds to (`BertForSequenceClassification`, …). */
  get architecture(): string {
    const base = this.prefix === "bert" ? "Bert" : "Roberta";
    return `${base}For${this.head === "sequence-classification" ? "SequenceClassification" : "TokenClassification"}`;
  }

  /** Final hidden states `[batch, length, hidden]` (HF `last_hidden_state`). */
  encode(inputs: ModelInputs, ctx: ForwardContext): tf.Tensor3D {
    const c = this.config;
    const p = this.prefix;
    const s = this.params;
    return tf.tidy(() => {
      const ids = tf.cast(inputs.inputIds, "int32") as tf.Tensor2D;
      const [b, t] = ids.shape;
      // RoBERTa's positions start after the padding index, so it fits pad_token_id + 1 fewer tokens.
      const room = c.max_position_embeddings - (p === "roberta" ? c.pad_token_id + 1 : 0);
      if (t > room) throw new ConfigError(`the batch is ${t} tokens long but this ${p} model has room for ${room}: truncate to maxLength ≤ ${room}.`);
      const mask = tf.cast(inputs.attentionMask, "float32");
      // Embeddings: word + position + token type, LayerNorm, dropout.
      let positions: tf.Tensor;
      if (p === "roberta") {
        // HF create_position_ids_from_input_ids: padding_idx + cumsum(not pad) * not pad.
        const notPad = tf.cast(tf.notEqual(ids, c.pad_token_id), "float32");
        positions = tf.cast(tf.add(tf.mul(tf.cumsum(notPad, 1), notPad), c.pad_token_id), "int32");
      } else {
        positions = tf.range(0, t, 1, "int32").expandDims(0).tile([b, 1]);
      }
      const types = inputs.tokenTypeIds ? tf.cast(inputs.tokenTypeIds, "int32") : tf.zeros([b, t], "int32");
      let x = tf.gather(s.get(`${p}.embeddings.word_embeddings.weight`), ids);
      x = tf.add(x, tf.gather(s.get(`${p}.embeddings.position_embeddings.weight`), positions));
      x = tf.add(x, tf.gather(s.get(`${p}.embeddings.token_type_embeddings.weight`), types));
      x = dropout(layerNorm(s, `${p}.embeddings.LayerNorm`, x, c.layer_norm_eps), c.hidden_dropout_prob, modelDropoutContext(ctx));
      // Additive mask on padded keys, [B, 1, 1, T]; a large finite negative keeps softmax NaN-free.
      const bias = tf.mul(tf.sub(1, mask), -1e9).reshape([b, 1, 1, t]);
      for (const layer of this.layers) x = this.block(layer, x, bias, ctx);
      return x as tf.Tensor3D;
    });
  }

  /** One encoder layer: self-attention, add & norm, feed-forward, add & norm (post-LN). */
  private block(l: EncoderLayer, x: tf.Tensor, bias: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    const c = this.config;
    const s = this.params;
    return tf.tidy(() => {
      const [b, t, h] = x.shape as [number, number, number];
      const nh = c.num_attention_heads;
      const hd = h / nh;
      const heads = (y: tf.Tensor) => y.reshape([b, t, nh, hd]).transpose([0, 2, 1, 3]); // [B, nh, T, hd]
      const q = heads(l.query.forward(x, ctx));
      const k = heads(l.key.forward(x, ctx));
      const v = heads(l.value.forward(x, ctx));
      const seed = dropoutSeed(c.attention_probs_dropout_prob, modelDropoutContext(ctx));
      const dropProbs = seed === undefined ? undefined : { rate: c.attention_probs_dropout_prob, seed };
      const ctxOut = attention(q, k, v, bias, { divisors: [Math.sqrt(hd)], dropout: dropProbs })
        .transpose([0, 2, 1, 3])
        .reshape([b, t, h]);
      const attn = dropout(l.attnOut.forward(ctxOut, ctx), c.hidden_dropout_prob, modelDropoutContext(ctx));
      const y = layerNorm(s, `${l.name}.attention.output.LayerNorm`, tf.add(attn, x), c.layer_norm_eps);
      const ff = activation(c.hidden_act, l.inter.forward(y, ctx));
      const out = dropout(l.out.forward(ff, ctx), c.hidden_dropout_prob, modelDropoutContext(ctx));
      return layerNorm(s, `${l.name}.output.LayerNorm`, tf.add(out, y), c.layer_norm_eps);
    });
  }

  /** The body's hidden states, what the head reads (see {@link HeadedModel}). */
  protected body(inputs: ModelInputs, ctx: ForwardContext): tf.Tensor3D {
    return this.encode(inputs, ctx);
  }
}

/**
 * The specs of a LayerNorm: weight (ones) and bias (zeros), both `[size]`.
 *
 * @example
 * ```ts
 * layerNormSpecs("bert.embeddings.LayerNorm", 768); // .weight and .bias, role base
 * ```
 */
export function layerNormSpecs(name: string, size: number): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [size], role: "base", init: "ones" },
    { name: `${name}.bias`, shape: [size], role: "base", init: "zeros" },
  ];
}
