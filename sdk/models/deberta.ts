/**
 * DeBERTa-v2 / v3, matching Hugging Face `DebertaV2ForSequenceClassification` /
 * `DebertaV2ForTokenClassification` (eager attention, fp32): He et al. 2021, "DeBERTa:
 * Decoding-enhanced BERT with Disentangled Attention", and DeBERTaV3 (the same body).
 *
 * What differs from BERT (sdk/models/encoder.ts):
 * - **Disentangled attention** (paper eq. 2–4): besides content-to-content q_i·k_j, each score gets
 *   content-to-position q_i·K^r_{δ(i,j)} (`c2p`) and position-to-content k_j·Q^r_{δ(i,j)} (`p2c`),
 *   where K^r, Q^r project the shared relative-position embeddings (`encoder.rel_embeddings`) with
 *   the layer's own key/query projections (`share_att_key`, v3) or with separate
 *   `pos_key_proj` / `pos_query_proj`. The sum is scaled by √(d_head · (1 + #terms)).
 * - **Relative positions** δ(i, j) = i − j, log-bucketed beyond ±position_buckets/2 (v2's
 *   `make_log_bucket_position`), then shifted by the span and clamped to [0, 2·span).
 * - No absolute positions in the input unless `position_biased_input`; no token types unless
 *   `type_vocab_size > 0`; the embeddings are zeroed on padding; the attention mask hides both
 *   padded keys and padded queries (a padded query's row is then uniform, as in HF).
 * - Sequence head: `pooler.dense` + `pooler_hidden_act` on token 0 (HF's ContextPooler), then
 *   `classifier`; both are the head's (PEFT's `modules_to_save`).
 *
 * Not read (refused with a ConfigError): the first layer's convolution (`conv_kernel_size`), an
 * `embedding_size` other than `hidden_size`, `attention_head_size`, and DeBERTa-v1's
 * `model_type: "deberta"` (its attention differs). The enhanced mask decoder is part of the MLM
 * head only; the classification models here never use it.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../core/errors.js";
import { softmax } from "../ops/second-order.js";
import { encoderConfig, layerNormSpecs } from "./encoder.js";
import { type Head, type HeadOptions, linearSpecs, sequenceClassificationLoss, tokenClassificationHead } from "./heads.js";
import { HeadedModel } from "./io.js";
import {
  activation,
  addParams,
  dropout,
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

/** The `config.json` fields DeBERTa-v2 reads (HF names; defaults are `DebertaV2Config`'s). */
export interface DebertaConfig extends ModelConfig {
  model_type: "deberta-v2";
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  pad_token_id: number;
  initializer_range: number;
  relative_attention: boolean;
  /** −1: max_position_embeddings. */
  max_relative_positions: number;
  /** > 0: log buckets (v2/v3); −1: none. */
  position_buckets: number;
  pos_att_type: ("c2p" | "p2c")[];
  share_att_key: boolean;
  /** "layer_norm" normalises `rel_embeddings`; "none" does not. */
  norm_rel_ebd: string;
  position_biased_input: boolean;
  pooler_hidden_size: number;
  pooler_hidden_act: string;
  pooler_dropout: number;
}

/**
 * Fill a DeBERTa-v2 config's missing fields with `DebertaV2Config`'s defaults and check it.
 *
 * @example
 * ```ts
 * const cfg = debertaConfig({ model_type: "deberta-v2", architectures: [], vocab_size: 128100 });
 * cfg.pos_att_type; // []  (v3 checkpoints set ["p2c", "c2p"])
 * ```
 */
export function debertaConfig(raw: ModelConfig): DebertaConfig {
  // The shared fields (sizes, dropout, eps) are checked as BERT's are.
  // (type_vocab_size may be 0 here, which BERT's check refuses: it is checked below instead.)
  const base = encoderConfig({ layer_norm_eps: 1e-7, ...raw, type_vocab_size: 1, model_type: "bert" } as ModelConfig);
  const cfg = {
    relative_attention: false,
    max_relative_positions: -1,
    position_buckets: -1,
    pos_att_type: [],
    share_att_key: false,
    norm_rel_ebd: "none",
    position_biased_input: true,
    ...base,
    type_vocab_size: Number(raw.type_vocab_size ?? 0),
    pooler_hidden_size: Number(raw.pooler_hidden_size ?? base.hidden_size),
    pooler_hidden_act: String(raw.pooler_hidden_act ?? "gelu"),
    pooler_dropout: Number(raw.pooler_dropout ?? 0),
    model_type: "deberta-v2",
  } as DebertaConfig;
  const where = "config.json";
  // HF accepts pos_att_type as "p2c|c2p" too.
  const pat = typeof cfg.pos_att_type === "string" ? (cfg.pos_att_type as string).toLowerCase().split("|") : cfg.pos_att_type;
  if (!Array.isArray(pat) || pat.some((p) => p !== "c2p" && p !== "p2c"))
    throw new ConfigError(`${where}: pos_att_type ${JSON.stringify(cfg.pos_att_type)} must list "c2p" and/or "p2c".`);
  cfg.pos_att_type = pat as DebertaConfig["pos_att_type"];
  if (!Number.isInteger(cfg.type_vocab_size) || cfg.type_vocab_size < 0)
    throw new ConfigError(`${where}: type_vocab_size must be a non-negative integer, got ${JSON.stringify(raw.type_vocab_size)}.`);
  if (raw.conv_kernel_size !== undefined && raw.conv_kernel_size !== 0)
    throw new ConfigError(
      `${where}: conv_kernel_size ${JSON.stringify(raw.conv_kernel_size)} (DeBERTa-v2 xlarge's convolution layer) is not supported; autolora reads DeBERTa-v2/v3 without it.`,
    );
  if (raw.embedding_size !== undefined && raw.embedding_size !== cfg.hidden_size)
    throw new ConfigError(`${where}: embedding_size ${raw.embedding_size} ≠ hidden_size ${cfg.hidden_size} (an embedding projection) is not supported.`);
  if (raw.attention_head_size !== undefined && raw.attention_head_size !== cfg.hidden_size / cfg.num_attention_heads)
    throw new ConfigError(`${where}: attention_head_size ${raw.attention_head_size} ≠ hidden_size / num_attention_heads is not supported.`);
  if (!["none", "layer_norm"].includes(String(cfg.norm_rel_ebd).toLowerCase().replace(/\s/g, "")))
    throw new ConfigError(`${where}: norm_rel_ebd ${JSON.stringify(cfg.norm_rel_ebd)} must be "none" or "layer_norm".`);
  return cfg;
}

/**
 * v2's log-bucketed relative position (HF `make_log_bucket_position`): δ itself within
 * ±bucketSize/2, beyond it sign(δ)·(mid + ⌈log(|δ|/mid) / log((maxPosition − 1)/mid) · (mid − 1)⌉).
 * Computed in float32 steps as PyTorch does, so the bucket edges fall where HF's do.
 *
 * @example
 * ```ts
 * logBucketPosition(27, 16, 512); // 11
 * ```
 */
export function logBucketPosition(delta: number, bucketSize: number, maxPosition: number): number {
  const f = Math.fround;
  const mid = Math.floor(bucketSize / 2);
  const abs = delta < mid && delta > -mid ? mid - 1 : Math.abs(delta);
  if (abs <= mid) return delta;
  const logPos = Math.ceil(f(f(f(Math.log(f(abs / mid))) / f(Math.log(f((maxPosition - 1) / mid)))) * (mid - 1))) + mid;
  return Math.sign(delta) * logPos;
}

/** One layer's linear modules, by role. */
interface DebertaLayer {
  name: string;
  query: Linear;
  key: Linear;
  value: Linear;
  posKey?: Linear;
  posQuery?: Linear;
  attnOut: Linear;
  inter: Linear;
  out: Linear;
}

/**
 * `DebertaV2ForSequenceClassification`'s head: ContextPooler (dropout, `pooler.dense`,
 * `pooler_hidden_act` on token 0), dropout, `classifier`.
 */
function debertaSequenceHead(store: ParamStore, o: HeadOptions & { poolerHidden: number; act: string; poolerDropout: number }): Head {
  const pooler = new Linear(store, "pooler.dense", o.hidden, o.poolerHidden);
  const classifier = new Linear(store, "classifier", o.poolerHidden, o.numLabels);
  return {
    kind: "sequence-classification",
    numLabels: o.numLabels,
    modules: ["classifier", "pooler"],
    specs: [...linearSpecs(pooler.name, o.hidden, o.poolerHidden, o.std, "head"), ...linearSpecs("classifier", o.poolerHidden, o.numLabels, o.std, "head")],
    linears: [pooler, classifier],
    forward: (hidden, _inputs, ctx) =>
      tf.tidy(() => {
        const [b, , h] = hidden.shape as [number, number, number];
        const first = hidden.slice([0, 0, 0], [b, 1, h]).reshape([b, h]);
        const pooled = activation(o.act, pooler.forward(dropout(first, o.poolerDropout, modelDropoutContext(ctx)), ctx));
        return classifier.forward(dropout(pooled, o.dropout, modelDropoutContext(ctx)), ctx);
      }),
    loss: (logits, labels) => sequenceClassificationLoss(logits, labels),
  };
}

/**
 * A DeBERTa-v2/v3 encoder with a sequence- or token-classification head. Build it with
 * `loadPretrained` / `createModel` (pretrained.ts).
 *
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/fixtures/hf/tiny-deberta-v2-seqcls");
 * model.linears.has("deberta.encoder.layer.0.attention.self.query_proj"); // true: a LoRA target
 * ```
 */
export class DebertaModel extends HeadedModel implements Model {
  readonly config: DebertaConfig;
  readonly headModules: string[];
  readonly numLabels: number;
  protected readonly headImpl: Head;
  private readonly layers: DebertaLayer[] = [];
  /** Rows of `rel_embeddings` used: 2 · span (span = position_buckets, else max_relative_positions). */
  private readonly span: number;
  /** The largest relative distance (`max_relative_positions`, −1: `max_position_embeddings`). */
  private readonly maxRel: number;
  /** The one-hot relative-position selectors by ±sequence length (kept tensors; freed by dispose). */
  private readonly selectorCache = new Map<number, tf.Tensor2D>();

  constructor(config: ModelConfig, head: HeadKind, numLabels: number, source: ParamSource, store = new ParamStore()) {
    super(head, store);
    const c = debertaConfig(config);
    this.config = c;
    this.numLabels = numLabels;
    const h = c.hidden_size;
    const std = c.initializer_range;
    this.maxRel = c.max_relative_positions < 1 ? c.max_position_embeddings : c.max_relative_positions;
    this.span = c.position_buckets > 0 ? c.position_buckets : this.maxRel;
    const specs: ParamSpec[] = [
      { name: "deberta.embeddings.word_embeddings.weight", shape: [c.vocab_size, h], role: "base", init: "normal", std, zeroRow: c.pad_token_id },
      ...layerNormSpecs("deberta.embeddings.LayerNorm", h),
    ];
    if (c.position_biased_input)
      specs.push({ name: "deberta.embeddings.position_embeddings.weight", shape: [c.max_position_embeddings, h], role: "base", init: "normal", std });
    if (c.type_vocab_size > 0)
      specs.push({ name: "deberta.embeddings.token_type_embeddings.weight", shape: [c.type_vocab_size, h], role: "base", init: "normal", std });
    if (c.relative_attention) {
      specs.push({ name: "deberta.encoder.rel_embeddings.weight", shape: [2 * this.span, h], role: "base", init: "normal", std });
      if (this.normRel) specs.push(...layerNormSpecs("deberta.encoder.LayerNorm", h));
    }
    const lin = (name: string, inF: number, outF: number) => {
      const l = new Linear(store, name, inF, outF);
      this.linears.set(name, l);
      specs.push(...linearSpecs(name, inF, outF, std, "base"));
      return l;
    };
    const separatePos = c.relative_attention && !c.share_att_key;
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const n = `deberta.encoder.layer.${i}`;
      const layer: DebertaLayer = {
        name: n,
        query: lin(`${n}.attention.self.query_proj`, h, h),
        key: lin(`${n}.attention.self.key_proj`, h, h),
        value: lin(`${n}.attention.self.value_proj`, h, h),
        posKey: separatePos && c.pos_att_type.includes("c2p") ? lin(`${n}.attention.self.pos_key_proj`, h, h) : undefined,
        posQuery: separatePos && c.pos_att_type.includes("p2c") ? lin(`${n}.attention.self.pos_query_proj`, h, h) : undefined,
        attnOut: lin(`${n}.attention.output.dense`, h, h),
        inter: lin(`${n}.intermediate.dense`, h, c.intermediate_size),
        out: lin(`${n}.output.dense`, c.intermediate_size, h),
      };
      specs.push(...layerNormSpecs(`${n}.attention.output.LayerNorm`, h), ...layerNormSpecs(`${n}.output.LayerNorm`, h));
      this.layers.push(layer);
    }
    const ho = { hidden: h, numLabels, dropout: Number(c.classifier_dropout ?? c.hidden_dropout_prob), std };
    if (head === "sequence-classification")
      this.headImpl = debertaSequenceHead(store, { ...ho, poolerHidden: c.pooler_hidden_size, act: c.pooler_hidden_act, poolerDropout: c.pooler_dropout });
    else if (head === "token-classification") this.headImpl = tokenClassificationHead(store, ho);
    else throw new ConfigError(`a deberta-v2 encoder has no "${head}" head: use sequence-classification or token-classification.`);
    specs.push(...this.headImpl.specs);
    for (const l of this.headImpl.linears) this.linears.set(l.name, l);
    this.headModules = [...this.headImpl.modules];
    addParams(store, specs, source);
  }

  private get normRel(): boolean {
    return String(this.config.norm_rel_ebd).toLowerCase().includes("layer_norm");
  }

  /** The HF class this model corresponds to. */
  get architecture(): string {
    return `DebertaV2For${this.head === "sequence-classification" ? "SequenceClassification" : "TokenClassification"}`;
  }

  /**
   * The bucketed, shifted, clamped relative position idx(d) = clamp(δ + span, 0, 2·span − 1) of a
   * query-minus-key offset d, for d = T − 1 … −(T − 1), as a one-hot matrix `[2span, 2T − 1]`
   * (column m ↔ d = T − 1 − m). `sign` −1 gives idx(−d), the p2c index seen from the key.
   */
  private selector(t: number, sign: 1 | -1): tf.Tensor2D {
    const key = sign * t;
    const hit = this.selectorCache.get(key);
    if (hit && !hit.isDisposed) return hit;
    const c = this.config;
    const s = this.span;
    const maxRel = this.maxRel;
    const w = 2 * t - 1;
    const m = new Float32Array(2 * s * w);
    for (let col = 0; col < w; col++) {
      const d = sign * (t - 1 - col);
      const rel = c.position_buckets > 0 && maxRel > 0 ? logBucketPosition(d, c.position_buckets, maxRel) : d;
      m[Math.min(Math.max(rel + s, 0), 2 * s - 1) * w + col] = 1;
    }
    const out = tf.keep(tf.tensor2d(m, [2 * s, w]));
    hit?.dispose();
    this.selectorCache.set(key, out);
    return out;
  }

  /**
   * out[…, i, j] = full[…, i, idx(sign · (i − j))] for full `[B, nh, T, 2span]`: HF's
   * torch.gather, here as a matmul with the one-hot selector (every column reads the offset
   * i − j) and Transformer-XL's relative shift (flatten, drop T − 1, rows of stride 2T − 2).
   * Matmuls and reshapes only: cheap gradients on every backend (tfjs' gather gradient is a
   * segment sum that took 55 s per step on cpu here), and exact (one product with 1 per entry).
   */
  private relativeGather(full: tf.Tensor, t: number, sign: 1 | -1): tf.Tensor {
    const [b, nh] = full.shape as [number, number, number, number];
    const g = tf.matMul(full, this.selector(t, sign)); // [B, nh, T, 2T − 1]: column m = offset T − 1 − m
    if (t === 1) return g;
    const flat = g.reshape([b, nh, t * (2 * t - 1)]).slice([0, 0, t - 1], [b, nh, t * (2 * t - 2)]);
    return flat.reshape([b, nh, t, 2 * t - 2]).slice([0, 0, 0, 0], [b, nh, t, t]);
  }

  /** Final hidden states `[batch, length, hidden]`. */
  encode(inputs: ModelInputs, ctx: ForwardContext): tf.Tensor3D {
    const c = this.config;
    const s = this.params;
    return tf.tidy(() => {
      const ids = tf.cast(inputs.inputIds, "int32") as tf.Tensor2D;
      const [b, t] = ids.shape;
      if (c.position_biased_input && t > c.max_position_embeddings)
        throw new ConfigError(
          `the batch is ${t} tokens long but this deberta-v2 model has room for ${c.max_position_embeddings}: truncate to maxLength ≤ ${c.max_position_embeddings}.`,
        );
      const mask = tf.cast(inputs.attentionMask, "float32");
      let x = tf.gather(s.get("deberta.embeddings.word_embeddings.weight"), ids);
      if (c.position_biased_input) x = tf.add(x, tf.gather(s.get("deberta.embeddings.position_embeddings.weight"), tf.range(0, t, 1, "int32")));
      if (c.type_vocab_size > 0) {
        const types = inputs.tokenTypeIds ? tf.cast(inputs.tokenTypeIds, "int32") : tf.zeros([b, t], "int32");
        x = tf.add(x, tf.gather(s.get("deberta.embeddings.token_type_embeddings.weight"), types));
      }
      x = layerNorm(s, "deberta.embeddings.LayerNorm", x, c.layer_norm_eps);
      x = tf.mul(x, mask.expandDims(2)); // HF zeroes the embeddings of padding
      x = dropout(x, c.hidden_dropout_prob, modelDropoutContext(ctx));
      // [B, 1, T, T]: a score counts where both the query and the key are real tokens.
      const keep = tf.cast(tf.mul(mask.reshape([b, 1, t, 1]), mask.reshape([b, 1, 1, t])), "bool");
      let rel: tf.Tensor2D | undefined;
      if (c.relative_attention) {
        rel = s.get("deberta.encoder.rel_embeddings.weight") as tf.Tensor2D;
        if (this.normRel) rel = layerNorm(s, "deberta.encoder.LayerNorm", rel, c.layer_norm_eps) as tf.Tensor2D;
        rel = dropout(rel, c.hidden_dropout_prob, modelDropoutContext(ctx)) as tf.Tensor2D; // HF's pos_dropout
      }
      for (const layer of this.layers) x = this.block(layer, x, keep, rel, ctx);
      return x as tf.Tensor3D;
    });
  }

  /** One layer: disentangled self-attention, add & norm, feed-forward, add & norm (post-LN). */
  private block(l: DebertaLayer, x: tf.Tensor, keep: tf.Tensor, rel: tf.Tensor2D | undefined, ctx: ForwardContext): tf.Tensor {
    const c = this.config;
    const s = this.params;
    return tf.tidy(() => {
      const [b, t, h] = x.shape as [number, number, number];
      const nh = c.num_attention_heads;
      const hd = h / nh;
      const heads = (y: tf.Tensor, n: number) => y.reshape([n, -1, nh, hd]).transpose([0, 2, 1, 3]); // [N, nh, L, hd]
      const q = heads(l.query.forward(x, ctx), b);
      const k = heads(l.key.forward(x, ctx), b);
      const v = heads(l.value.forward(x, ctx), b);
      const terms = 1 + (c.relative_attention ? c.pos_att_type.length : 0);
      const scale = Math.sqrt(hd * terms);
      let scores = tf.div(tf.matMul(q, k, false, true), scale); // [B, nh, T, T] content → content
      if (rel !== undefined) {
        const span2 = 2 * this.span;
        const r = rel.slice([0, 0], [span2, h]);
        if (c.pos_att_type.includes("c2p")) {
          // [B, nh, 2span, hd]: broadcast explicitly (tfjs' batched-matmul gradient does not reduce a broadcast batch).
          const posK = tf.broadcastTo(heads((l.posKey ?? l.key).forward(r, ctx), 1), [b, nh, span2, hd]);
          const c2p = this.relativeGather(tf.matMul(q, posK, false, true), t, 1); // q_i · K^r_{idx(i − j)}
          scores = tf.add(scores, tf.div(c2p, scale));
        }
        if (c.pos_att_type.includes("p2c")) {
          const posQ = tf.broadcastTo(heads((l.posQuery ?? l.query).forward(r, ctx), 1), [b, nh, span2, hd]);
          // k_j · Q^r_{idx(i − j)}: from key j's row, the offset j − i read as idx(−(j − i)); then transpose.
          const p2c = this.relativeGather(tf.matMul(k, posQ, false, true), t, -1).transpose([0, 1, 3, 2]);
          scores = tf.add(scores, tf.div(p2c, scale));
        }
      }
      // HF masked_fill(~mask, finfo.min): replaced, not added, so an all-padding row is uniform.
      scores = tf.where(tf.broadcastTo(keep, scores.shape), scores, tf.fill(scores.shape, -1e30));
      let probs = softmax(scores);
      probs = dropout(probs, c.attention_probs_dropout_prob, modelDropoutContext(ctx));
      const ctxOut = tf.matMul(probs, v).transpose([0, 2, 1, 3]).reshape([b, t, h]);
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

  /** The parameters and the cached relative-position selectors. */
  override dispose(): void {
    for (const m of this.selectorCache.values()) m.dispose();
    this.selectorCache.clear();
    super.dispose();
  }
}
