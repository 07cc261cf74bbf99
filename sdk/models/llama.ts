/**
 * The Llama family of decoders, matching Hugging Face `LlamaForCausalLM`, `Qwen2ForCausalLM`,
 * `MistralForCausalLM` and their `*ForSequenceClassification` (eager attention, fp32). One class
 * for the three: they differ only in configuration.
 *
 * A block is pre-norm: `x + o_proj(attn(input_layernorm(x)))`, then
 * `x + down_proj(silu(gate_proj(y)) * up_proj(y))` with `y = post_attention_layernorm(x)`
 * (SwiGLU, Shazeer 2020); the final norm is `model.norm`. Norms are RMSNorm
 * (`weight · x / √(mean(x²) + eps)`, Zhang & Sennrich 2019), no bias.
 *
 * - **Grouped-query attention** (Ainslie et al. 2023): `num_key_value_heads` key/value heads, each
 *   shared by `num_attention_heads / num_key_value_heads` consecutive query heads (HF `repeat_kv`:
 *   query head h reads kv head ⌊h / groups⌋). `head_dim` may differ from hidden / heads (Mistral).
 * - **RoPE** (Su et al. 2021), transformers' `rotate_half` convention: the first and second
 *   halves of `head_dim` are the two coordinates of each rotated pair (not interleaved pairs, as
 *   in the paper and Meta's code, whose checkpoints HF converts by permuting q/k rows).
 *   `inv_freq_i = 1 / θ^(2i/d)`; scaling `linear` divides it by `factor`, `llama3` divides the
 *   low frequencies only and interpolates between ({@link ropeInvFreq}).
 * - **Biases**: Llama's `attention_bias` (q, k, v, o) and `mlp_bias`; Qwen2 always has q/k/v
 *   biases and none on `o_proj`; Mistral has none.
 * - **Mistral's sliding window**: a query at cache index i sees keys j with `i − window < j ≤ i`
 *   (transformers' `sliding_window_overlay`).
 * - **Embeddings**: `lm_head` tied to `model.embed_tokens` when `tie_word_embeddings` (Qwen2's
 *   small models; no `lm_head.weight` in the file), else its own weight.
 *
 * Position ids are 0..T−1 in {@link LlamaModel.forward} (right padding, as HF's forward without
 * `position_ids`); generation with a key/value cache ({@link LlamaModel.startCache}) takes them
 * from the attention mask, `cumsum(mask) − 1`, so left-padded prompts start at position 0 as in
 * transformers' `generate`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../core/errors.js";
import { attention } from "../ops/nn.js";
import { type Head, lastTokenSequenceHead, linearSpecs, tiedLmHead } from "./heads.js";
import { HeadedModel } from "./io.js";
import {
  activation,
  addParams,
  dropoutSeed,
  type ForwardContext,
  type HeadKind,
  Linear,
  type Model,
  type ModelConfig,
  type ModelInputs,
  modelDropoutContext,
  type ParamSource,
  type ParamSpec,
  ParamStore,
} from "./module.js";

/** The model types of the family. */
export type LlamaModelType = "llama" | "qwen2" | "mistral";

/** The RoPE scalings autolora computes (transformers' `rope_type`). */
export type RopeType = "default" | "linear" | "llama3";

/** RoPE's parameters, read from either config layout ({@link ropeParameters}). */
export interface RopeParameters {
  ropeType: RopeType;
  theta: number;
  /** `linear` and `llama3`. */
  factor?: number;
  /** `llama3` only. */
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

/** The `config.json` fields the family reads (HF names; defaults are `LlamaConfig`'s). */
export interface LlamaConfig extends ModelConfig {
  model_type: LlamaModelType;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  hidden_act: string;
  max_position_embeddings: number;
  rms_norm_eps: number;
  attention_bias: boolean;
  mlp_bias: boolean;
  attention_dropout: number;
  tie_word_embeddings: boolean;
  initializer_range: number;
  pad_token_id?: number | null;
  /** Mistral: keys further back than this many positions are not attended (null: none). */
  sliding_window?: number | null;
}

const ROPE_TYPES: readonly string[] = ["default", "linear", "llama3"];

/**
 * RoPE's parameters from a config, as transformers 5 writes them (`rope_parameters: { rope_type,
 * rope_theta, factor, … }`) or the older way (`rope_theta` at the top, `rope_scaling: { type |
 * rope_type, factor, … }`). Anything but `default`, `linear`, `llama3` is a {@link ConfigError}
 * naming `where` and the field.
 *
 * @example
 * ```ts
 * ropeParameters({ rope_theta: 10000, rope_scaling: { type: "linear", factor: 2 } }, "config.json"); // { ropeType: "linear", theta: 10000, factor: 2 }
 * ```
 */
export function ropeParameters(raw: Record<string, unknown>, where: string): RopeParameters {
  const obj = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  let field: string;
  let p: Record<string, unknown>;
  let theta: unknown;
  if (raw.rope_parameters !== undefined && raw.rope_parameters !== null) {
    if (!obj(raw.rope_parameters))
      throw new ConfigError(`${where}: rope_parameters is ${JSON.stringify(raw.rope_parameters)}, but it must be an object { rope_type, rope_theta, … }.`);
    field = "rope_parameters";
    p = raw.rope_parameters as Record<string, unknown>;
    theta = p.rope_theta ?? raw.rope_theta ?? 10000;
  } else {
    field = "rope_scaling";
    const s = raw.rope_scaling ?? {};
    if (!obj(s)) throw new ConfigError(`${where}: rope_scaling is ${JSON.stringify(s)}, but it must be null or an object { rope_type, factor, … }.`);
    p = s as Record<string, unknown>;
    theta = raw.rope_theta ?? p.rope_theta ?? 10000;
  }
  const type = p.rope_type ?? p.type ?? "default";
  const typeField = `${field}.${p.rope_type !== undefined ? "rope_type" : "type"}`;
  if (typeof type !== "string" || !ROPE_TYPES.includes(type))
    throw new ConfigError(
      `${where}: ${typeField} is ${JSON.stringify(type)}; autolora computes RoPE of type ${ROPE_TYPES.map((t) => `"${t}"`).join(", ")} only (not yarn, dynamic, longrope, …). Use a checkpoint with one of those.`,
    );
  const num = (name: string, v: unknown, min = 0): number => {
    if (typeof v !== "number" || !Number.isFinite(v) || !(v > min))
      throw new ConfigError(`${where}: ${name} is ${JSON.stringify(v)}, but it must be a finite number > ${min}. Fix the config.`);
    return v;
  };
  const out: RopeParameters = {
    ropeType: type as RopeType,
    theta: num(field === "rope_parameters" && p.rope_theta !== undefined ? "rope_parameters.rope_theta" : "rope_theta", theta),
  };
  if (type === "linear" || type === "llama3") out.factor = num(`${field}.factor`, p.factor);
  if (type === "llama3") {
    out.lowFreqFactor = num(`${field}.low_freq_factor`, p.low_freq_factor);
    out.highFreqFactor = num(`${field}.high_freq_factor`, p.high_freq_factor);
    if (!(out.highFreqFactor > out.lowFreqFactor))
      throw new ConfigError(`${where}: ${field}.high_freq_factor (${out.highFreqFactor}) must be greater than low_freq_factor (${out.lowFreqFactor}).`);
    out.originalMaxPositionEmbeddings = num(`${field}.original_max_position_embeddings`, p.original_max_position_embeddings);
  }
  return out;
}

/**
 * RoPE's inverse frequencies, `head_dim / 2` of them: `1 / θ^(2i/d)`, then scaled as the type
 * says. `llama3` (transformers' `_compute_llama3_parameters`): with `L` = the original context,
 * wavelengths `2π / f` longer than `L / low_freq_factor` are divided by `factor`, shorter than
 * `L / high_freq_factor` kept, and between them `f` is interpolated:
 * `(1 − s) f / factor + s f`, `s = (L / wavelength − low) / (high − low)`.
 *
 * @example
 * ```ts
 * ropeInvFreq({ ropeType: "linear", theta: 10000, factor: 2 }, 8); // [0.5, 0.05, 0.005, 0.0005]
 * ```
 */
export function ropeInvFreq(rope: RopeParameters, headDim: number): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    // transformers computes θ^(2i/d) in fp32, then its reciprocal
    let f = 1 / Math.fround(rope.theta ** Math.fround((2 * i) / headDim));
    if (rope.ropeType === "linear") f /= rope.factor!;
    else if (rope.ropeType === "llama3") {
      const factor = rope.factor!;
      const low = rope.lowFreqFactor!;
      const high = rope.highFreqFactor!;
      const context = rope.originalMaxPositionEmbeddings!;
      const wavelength = (2 * Math.PI) / f;
      if (wavelength > context / low) f /= factor;
      else if (wavelength >= context / high) {
        const s = (context / wavelength - low) / (high - low);
        f = ((1 - s) * f) / factor + s * f;
      }
    }
    out[i] = f;
  }
  return out;
}

/**
 * Fill a Llama / Qwen2 / Mistral config's missing fields with HF's defaults and check it
 * (including its RoPE, {@link ropeParameters}).
 *
 * @example
 * ```ts
 * const cfg = llamaConfig({ model_type: "llama", architectures: ["LlamaForCausalLM"], vocab_size: 360, hidden_size: 32, num_attention_heads: 4, num_key_value_heads: 2 });
 * cfg.head_dim; // 8
 * ```
 */
export function llamaConfig(raw: ModelConfig, where = "config.json"): LlamaConfig {
  const type = raw.model_type as LlamaModelType;
  const cfg = {
    hidden_size: 4096,
    intermediate_size: type === "llama" ? 11008 : type === "qwen2" ? 22016 : 14336,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    hidden_act: "silu",
    max_position_embeddings: type === "llama" ? 2048 : 32768,
    rms_norm_eps: 1e-6,
    attention_bias: false,
    mlp_bias: false,
    attention_dropout: 0,
    tie_word_embeddings: false,
    initializer_range: 0.02,
    ...raw,
  } as LlamaConfig;
  cfg.num_key_value_heads = (raw.num_key_value_heads as number | null | undefined) ?? cfg.num_attention_heads;
  cfg.head_dim = (raw.head_dim as number | null | undefined) ?? cfg.hidden_size / cfg.num_attention_heads;
  for (const k of [
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "max_position_embeddings",
  ] as const) {
    if (!Number.isInteger(cfg[k]) || (cfg[k] as number) <= 0)
      throw new ConfigError(`${where}: ${k} must be a positive integer, got ${JSON.stringify(cfg[k])}. Fix the config or re-save the model with transformers.`);
  }
  if (cfg.num_attention_heads % cfg.num_key_value_heads !== 0)
    throw new ConfigError(
      `${where}: num_attention_heads ${cfg.num_attention_heads} is not a multiple of num_key_value_heads ${cfg.num_key_value_heads}: each key/value head must serve as many query heads.`,
    );
  if (cfg.head_dim % 2 !== 0) throw new ConfigError(`${where}: head_dim ${cfg.head_dim} is odd; RoPE rotates pairs, so it must be even.`);
  const partial = raw.partial_rotary_factor;
  if (partial !== undefined && partial !== null && partial !== 1)
    throw new ConfigError(`${where}: partial_rotary_factor ${JSON.stringify(partial)} is not supported: autolora rotates the whole head (1.0).`);
  // pretraining_tp > 1 only splits HF's matmuls to reproduce the original run's rounding: same math, ignored.
  if (type === "qwen2" && raw.use_sliding_window === true)
    throw new ConfigError(`${where}: use_sliding_window true (Qwen2 sliding-window layers) is not supported; autolora computes Qwen2 with full attention.`);
  if (type !== "mistral") cfg.sliding_window = null;
  else if (cfg.sliding_window !== undefined && cfg.sliding_window !== null && !(Number.isInteger(cfg.sliding_window) && cfg.sliding_window > 0))
    throw new ConfigError(`${where}: sliding_window must be a positive integer or null, got ${JSON.stringify(cfg.sliding_window)}.`);
  ropeParameters(cfg, where);
  return cfg;
}

/** One layer's linear modules. */
interface LlamaLayer {
  name: string;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  gate: Linear;
  up: Linear;
  down: Linear;
}

/**
 * A key/value cache for incremental decoding: per layer, the keys (after RoPE) and values of
 * every token seen so far, `[batch, kvHeads, length, headDim]`, the attention mask `[batch,
 * length]` and each row's next position. Its tensors are owned by the cache: {@link KvCache.dispose}.
 */
export interface KvCache {
  /** Tokens held per row. */
  readonly length: number;
  readonly batch: number;
  /** A cache of the given rows, in that order (beam search: the parents of the new beams). */
  select(rows: readonly number[]): KvCache;
  dispose(): void;
}

/** What incremental decoding returns: the next-token logits `[batch, vocab]` and the extended cache. */
export interface CacheStep {
  logits: tf.Tensor2D;
  cache: KvCache;
}

/** A causal LM that decodes with a key/value cache (the Llama family). */
export interface CachedCausalLm extends Model {
  /** Run the prompts `[batch, length]` (left padding: mask 0) and return the last position's logits and a cache. */
  startCache(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D): CacheStep;
  /** Feed one token per row (`[batch]`) after the cached ones. The old cache stays valid (dispose it). */
  extendCache(cache: KvCache, nextIds: tf.Tensor1D): CacheStep;
}

/** Whether a model decodes with a key/value cache ({@link CachedCausalLm}). */
export function hasKvCache(model: Model): model is CachedCausalLm {
  return model.head === "causal-lm" && typeof (model as Partial<CachedCausalLm>).startCache === "function";
}

class LlamaKvCache implements KvCache {
  constructor(
    readonly keys: tf.Tensor[],
    readonly values: tf.Tensor[],
    /** `[B, T]` float 1/0. */
    readonly mask: tf.Tensor2D,
    /** `[B]` int32: the position of the next token. */
    readonly nextPosition: tf.Tensor1D,
  ) {}
  get length(): number {
    return this.mask.shape[1];
  }
  get batch(): number {
    return this.mask.shape[0];
  }
  select(rows: readonly number[]): KvCache {
    const out = tf.tidy(() => {
      const idx = tf.tensor1d([...rows], "int32");
      const g = (t: tf.Tensor) => tf.gather(t, idx);
      return { keys: this.keys.map(g), values: this.values.map(g), mask: g(this.mask) as tf.Tensor2D, next: g(this.nextPosition) as tf.Tensor1D };
    });
    return new LlamaKvCache(out.keys, out.values, out.mask, out.next);
  }
  dispose(): void {
    for (const t of [...this.keys, ...this.values, this.mask, this.nextPosition]) t.dispose();
  }
}

const NEG = -1e9;

/**
 * A Llama, Qwen2 or Mistral decoder with a causal-LM or sequence-classification head. Build it
 * with `loadPretrained` / `createModel` (pretrained.ts).
 *
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/fixtures/hf/tiny-llama-lm");
 * const logits = (await model.predict({ inputIds: [[1, 311, 309]] })) as number[][][]; // [1, 3, 360]
 * ```
 */
export class LlamaModel extends HeadedModel implements Model, CachedCausalLm {
  readonly config: LlamaConfig;
  readonly headModules: string[];
  /** The vocabulary size for a causal LM, else the number of labels. */
  readonly numLabels: number;
  readonly prefix = "model";
  readonly rope: RopeParameters;
  private readonly invFreq: Float32Array;
  protected readonly headImpl: Head;
  private readonly layers: LlamaLayer[] = [];

  /**
   * @param source supplies every declared parameter's values (a checkpoint, or a seeded init).
   */
  constructor(config: ModelConfig, head: HeadKind, numLabels: number, source: ParamSource, store = new ParamStore()) {
    super(head, store);
    const c = llamaConfig(config);
    this.config = c;
    this.rope = ropeParameters(c, "config.json");
    this.invFreq = ropeInvFreq(this.rope, c.head_dim);
    const h = c.hidden_size;
    const std = c.initializer_range;
    const qkvBias = c.model_type === "qwen2" || (c.model_type === "llama" && c.attention_bias);
    const oBias = c.model_type === "llama" && c.attention_bias;
    const mlpBias = c.model_type === "llama" && c.mlp_bias;
    const specs: ParamSpec[] = [{ name: "model.embed_tokens.weight", shape: [c.vocab_size, h], role: "base", init: "normal", std }];
    const lin = (name: string, inF: number, outF: number, bias: boolean) => {
      const l = new Linear(store, name, inF, outF, bias);
      this.linears.set(name, l);
      specs.push(...linearSpecs(name, inF, outF, std, "base", { bias }));
      return l;
    };
    const qOut = c.num_attention_heads * c.head_dim;
    const kvOut = c.num_key_value_heads * c.head_dim;
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const n = `model.layers.${i}`;
      specs.push({ name: `${n}.input_layernorm.weight`, shape: [h], role: "base", init: "ones" });
      const q = lin(`${n}.self_attn.q_proj`, h, qOut, qkvBias);
      const k = lin(`${n}.self_attn.k_proj`, h, kvOut, qkvBias);
      const v = lin(`${n}.self_attn.v_proj`, h, kvOut, qkvBias);
      const o = lin(`${n}.self_attn.o_proj`, qOut, h, oBias);
      specs.push({ name: `${n}.post_attention_layernorm.weight`, shape: [h], role: "base", init: "ones" });
      const gate = lin(`${n}.mlp.gate_proj`, h, c.intermediate_size, mlpBias);
      const up = lin(`${n}.mlp.up_proj`, h, c.intermediate_size, mlpBias);
      const down = lin(`${n}.mlp.down_proj`, c.intermediate_size, h, mlpBias);
      this.layers.push({ name: n, q, k, v, o, gate, up, down });
    }
    specs.push({ name: "model.norm.weight", shape: [h], role: "base", init: "ones" });
    if (head === "causal-lm") {
      if (c.tie_word_embeddings) this.headImpl = tiedLmHead(store, "model.embed_tokens.weight", c.vocab_size);
      else {
        // An untied lm_head is part of the pretrained model (frozen, role base); like GPT-2's tied
        // one it is not a target for adapters (PEFT's all-linear leaves the output layer out too).
        specs.push({ name: "lm_head.weight", shape: [c.vocab_size, h], role: "base", init: "normal", std });
        this.headImpl = tiedLmHead(store, "lm_head.weight", c.vocab_size); // the same product, on lm_head's own weight
      }
    } else if (head === "sequence-classification") {
      if (c.pad_token_id === undefined || c.pad_token_id === null)
        throw new ConfigError(
          `config.json: a ${c.model_type} sequence classifier reads the last token that is not padding, so it needs pad_token_id (transformers refuses batches without it too). Set pad_token_id.`,
        );
      this.headImpl = lastTokenSequenceHead(store, { hidden: h, numLabels, dropout: 0, std }, { padTokenId: c.pad_token_id });
    } else {
      throw new ConfigError(`a ${c.model_type} decoder has no "${head}" head in autolora: use causal-lm or sequence-classification.`);
    }
    this.numLabels = this.headImpl.numLabels;
    specs.push(...this.headImpl.specs);
    for (const l of this.headImpl.linears) this.linears.set(l.name, l);
    this.headModules = [...this.headImpl.modules];
    addParams(store, specs, source);
  }

  /** The HF class this model corresponds to (`LlamaForCausalLM`, `Qwen2ForSequenceClassification`, …). */
  get architecture(): string {
    const base = { llama: "Llama", qwen2: "Qwen2", mistral: "Mistral" }[this.config.model_type];
    return `${base}For${this.head === "causal-lm" ? "CausalLM" : "SequenceClassification"}`;
  }

  /**
   * The decoder on new tokens `ids` `[B, Tn]` after `past` (or none): hidden states after
   * `model.norm` `[B, Tn, hidden]` and every layer's keys/values of past + new tokens.
   * `mask` `[B, Tpast + Tn]` (1/0), `positions` `[B, Tn]` int32.
   */
  private run(
    ids: tf.Tensor2D,
    mask: tf.Tensor2D,
    positions: tf.Tensor2D,
    past: { keys: tf.Tensor[]; values: tf.Tensor[] } | undefined,
    ctx: ForwardContext,
  ): { hidden: tf.Tensor3D; keys: tf.Tensor[]; values: tf.Tensor[] } {
    const c = this.config;
    const s = this.params;
    const [b, tn] = ids.shape;
    const tk = mask.shape[1];
    const tp = tk - tn;
    if (tk > c.max_position_embeddings)
      throw new ConfigError(
        `the sequence is ${tk} tokens long but this ${c.model_type} model has max_position_embeddings ${c.max_position_embeddings}: truncate to maxLength ≤ ${c.max_position_embeddings}.`,
      );
    let x = tf.gather(s.get("model.embed_tokens.weight"), ids) as tf.Tensor;
    // RoPE angles, [B, 1, Tn, hd]: freqs = position · inv_freq (fp32, as transformers), doubled (cat(freqs, freqs)).
    const freqs = tf.mul(tf.cast(positions, "float32").expandDims(2), tf.tensor1d(this.invFreq).reshape([1, 1, -1]));
    const emb = tf.concat([freqs, freqs], -1).expandDims(1);
    const cos = tf.cos(emb);
    const sin = tf.sin(emb);
    // Additive mask [B, 1, Tn, Tk]: key j (cache index) is seen by query i = tp + q when j ≤ i,
    // i − window < j (Mistral), and the key is not padding.
    const qi = tf.range(tp, tk, 1, "int32").reshape([tn, 1]);
    const kj = tf.range(0, tk, 1, "int32").reshape([1, tk]);
    let allowed = tf.lessEqual(kj, qi);
    if (c.sliding_window) allowed = tf.logicalAnd(allowed, tf.greater(kj, tf.sub(qi, c.sliding_window)));
    // One boolean mask, then one value for every key it hides (as transformers builds it), so a
    // query with no visible key (a padding token beyond Mistral's window) attends uniformly, as there.
    const seen = tf.logicalAnd(allowed.reshape([1, 1, tn, tk]), tf.greater(mask, 0).reshape([b, 1, 1, tk]));
    const bias = tf.mul(tf.sub(1, tf.cast(seen, "float32")), NEG);
    const keys: tf.Tensor[] = [];
    const values: tf.Tensor[] = [];
    this.layers.forEach((layer, i) => {
      const out = this.block(layer, x, cos, sin, bias, past?.keys[i], past?.values[i], ctx);
      x = out.x;
      keys.push(out.k);
      values.push(out.v);
    });
    return { hidden: rmsNorm(s.get("model.norm.weight"), x, c.rms_norm_eps) as tf.Tensor3D, keys, values };
  }

  /** One block: x + attn(input_layernorm(x)), then x + mlp(post_attention_layernorm(x)). */
  private block(
    l: LlamaLayer,
    x: tf.Tensor,
    cos: tf.Tensor,
    sin: tf.Tensor,
    bias: tf.Tensor,
    pastK: tf.Tensor | undefined,
    pastV: tf.Tensor | undefined,
    ctx: ForwardContext,
  ): { x: tf.Tensor; k: tf.Tensor; v: tf.Tensor } {
    const c = this.config;
    const s = this.params;
    const [b, t] = x.shape as [number, number, number];
    const nh = c.num_attention_heads;
    const nkv = c.num_key_value_heads;
    const hd = c.head_dim;
    const heads = (y: tf.Tensor, n: number) => y.reshape([b, t, n, hd]).transpose([0, 2, 1, 3]); // [B, n, T, hd]
    const normed = rmsNorm(s.get(`${l.name}.input_layernorm.weight`), x, c.rms_norm_eps);
    const q = applyRope(heads(l.q.forward(normed, ctx), nh), cos, sin);
    let k = applyRope(heads(l.k.forward(normed, ctx), nkv), cos, sin);
    let v = heads(l.v.forward(normed, ctx), nkv);
    if (pastK && pastV) {
      k = tf.concat([pastK, k], 2);
      v = tf.concat([pastV, v], 2);
    }
    // GQA (HF repeat_kv): kv head j serves query heads j·groups … (j+1)·groups − 1.
    const groups = nh / nkv;
    const repeat = (y: tf.Tensor) => {
      if (groups === 1) return y;
      const tk = y.shape[2]!;
      // rank-4 tile: tfjs has no gradient for tiling a rank-5 tensor
      return y
        .reshape([b, nkv, 1, tk * hd])
        .tile([1, 1, groups, 1])
        .reshape([b, nh, tk, hd]);
    };
    const seed = dropoutSeed(c.attention_dropout, modelDropoutContext(ctx));
    const dropProbs = seed === undefined ? undefined : { rate: c.attention_dropout, seed };
    const attn = attention(q, repeat(k), repeat(v), bias, { divisors: [Math.sqrt(hd)], dropout: dropProbs })
      .transpose([0, 2, 1, 3])
      .reshape([b, t, nh * hd]);
    const y = tf.add(x, l.o.forward(attn, ctx));
    const m = rmsNorm(s.get(`${l.name}.post_attention_layernorm.weight`), y, c.rms_norm_eps);
    const ff = tf.mul(activation(c.hidden_act, l.gate.forward(m, ctx)), l.up.forward(m, ctx));
    return { x: tf.add(y, l.down.forward(ff, ctx)), k, v };
  }

  /** Final hidden states after `model.norm`, `[batch, length, hidden]` (positions 0..T−1). */
  decode(inputs: ModelInputs, ctx: ForwardContext): tf.Tensor3D {
    return tf.tidy(() => {
      const ids = tf.cast(inputs.inputIds, "int32") as tf.Tensor2D;
      const [b, t] = ids.shape;
      const positions = tf.range(0, t, 1, "int32").expandDims(0).tile([b, 1]) as tf.Tensor2D;
      return this.run(ids, tf.cast(inputs.attentionMask, "float32") as tf.Tensor2D, positions, undefined, ctx).hidden;
    });
  }

  /** The body's hidden states, what the head reads (see {@link HeadedModel}). */
  protected body(inputs: ModelInputs, ctx: ForwardContext): tf.Tensor3D {
    return this.decode(inputs, ctx);
  }

  private lastLogits(hidden: tf.Tensor3D): tf.Tensor2D {
    const [b, t, h] = hidden.shape;
    const last = hidden.slice([0, t - 1, 0], [b, 1, h]);
    const ids = tf.zeros([b, 1], "int32") as tf.Tensor2D;
    return this.headImpl.forward(last, { inputIds: ids, attentionMask: tf.onesLike(ids) }, { training: false }).reshape([b, -1]) as tf.Tensor2D;
  }

  /**
   * Start incremental decoding on prompts `[batch, length]` (left-padded: mask 0 at the start):
   * positions `cumsum(mask) − 1` (1 at padding, as transformers' `generate`), the last
   * position's logits and the cache. Evaluation mode.
   */
  startCache(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D): CacheStep {
    this.needLm("startCache");
    const out = tf.tidy(() => {
      const ids = tf.cast(inputIds, "int32") as tf.Tensor2D;
      const mask = tf.cast(attentionMask, "float32") as tf.Tensor2D;
      const cum = tf.sub(tf.cumsum(mask, 1), 1);
      const positions = tf.cast(tf.where(tf.greater(mask, 0), cum, tf.onesLike(cum)), "int32") as tf.Tensor2D;
      const r = this.run(ids, mask, positions, undefined, { training: false });
      const next = tf.cast(tf.sum(mask, 1), "int32") as tf.Tensor1D;
      return { logits: this.lastLogits(r.hidden), keys: r.keys, values: r.values, mask, next };
    });
    return { logits: out.logits, cache: new LlamaKvCache(out.keys, out.values, out.mask, out.next) };
  }

  /** One token per row after the cache: its logits `[batch, vocab]` and the longer cache (the old one is left as is). */
  extendCache(cache: KvCache, nextIds: tf.Tensor1D): CacheStep {
    this.needLm("extendCache");
    if (!(cache instanceof LlamaKvCache)) throw new ConfigError("extendCache: the cache was not made by this model's startCache.");
    const out = tf.tidy(() => {
      const b = cache.batch;
      const ids = tf.cast(nextIds, "int32").reshape([b, 1]) as tf.Tensor2D;
      const mask = tf.concat([cache.mask, tf.ones([b, 1])], 1) as tf.Tensor2D;
      const positions = cache.nextPosition.reshape([b, 1]) as tf.Tensor2D;
      const r = this.run(ids, mask, positions, cache, { training: false });
      return { logits: this.lastLogits(r.hidden), keys: r.keys, values: r.values, mask, next: tf.add(cache.nextPosition, 1) as tf.Tensor1D };
    });
    return { logits: out.logits, cache: new LlamaKvCache(out.keys, out.values, out.mask, out.next) };
  }

  private needLm(what: string): void {
    if (this.head !== "causal-lm") throw new ConfigError(`${what} needs a causal-LM head; this ${this.config.model_type} model has a ${this.head} head.`);
  }
}

/**
 * RMSNorm over the last axis (HF `LlamaRMSNorm`): `weight · x / √(mean(x²) + eps)`, in fp32.
 *
 * @example
 * ```ts
 * rmsNorm(tf.ones([4]), tf.tensor([[1, -1, 1, -1]]), 1e-6); // ≈ [[1, -1, 1, -1]]
 * ```
 */
export function rmsNorm(weight: tf.Tensor, x: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const x32 = tf.cast(x, "float32");
    const variance = tf.mean(tf.square(x32), -1, true);
    return tf.mul(weight, tf.mul(x32, tf.rsqrt(tf.add(variance, eps))));
  });
}

/** `x · cos + rotate_half(x) · sin`, `rotate_half(x) = cat(−x₂, x₁)` over the halves of the last axis. */
function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  const [x1, x2] = tf.split(x, 2, -1) as [tf.Tensor, tf.Tensor];
  return tf.add(tf.mul(x, cos), tf.mul(tf.concat([tf.neg(x2), x1], -1), sin));
}
