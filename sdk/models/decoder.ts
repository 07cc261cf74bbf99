/**
 * GPT-2, matching Hugging Face `GPT2LMHeadModel` / `GPT2ForSequenceClassification` /
 * `GPT2ForTokenClassification` (eager attention, fp32). Pre-LayerNorm blocks of causal
 * self-attention and an MLP; the LM head is the token embedding reused (tied).
 *
 * GPT-2's linear layers are `Conv1D` modules whose weight is stored `[in, out]`; they are
 * {@link Linear}s with `fanInFanOut = true` (PEFT's flag), under their HF names
 * (`transformer.h.0.attn.c_attn`), so LoRA targets such as `c_attn` attach to them.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../core/errors.js";
import { attention } from "../ops/nn.js";
import { layerNormSpecs } from "./encoder.js";
import { type Head, lastTokenSequenceHead, linearSpecs, tiedLmHead, tokenClassificationHead } from "./heads.js";
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

/** The `config.json` fields GPT-2 reads (HF names; defaults are GPT-2 small's). */
export interface DecoderConfig extends ModelConfig {
  model_type: "gpt2";
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  /** MLP width; `null` means 4 × `n_embd`. */
  n_inner: number | null;
  activation_function: string;
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  layer_norm_epsilon: number;
  initializer_range: number;
  scale_attn_weights: boolean;
  scale_attn_by_inverse_layer_idx: boolean;
  classifier_dropout?: number | null;
}

/**
 * Fill a GPT-2 config's missing fields with HF's `GPT2Config` defaults and check it.
 *
 * @example
 * ```ts
 * const cfg = decoderConfig({ model_type: "gpt2", architectures: ["GPT2LMHeadModel"], vocab_size: 50257 });
 * ```
 */
export function decoderConfig(raw: ModelConfig): DecoderConfig {
  const cfg = {
    n_positions: 1024,
    n_embd: 768,
    n_layer: 12,
    n_head: 12,
    n_inner: null,
    activation_function: "gelu_new",
    resid_pdrop: 0.1,
    embd_pdrop: 0.1,
    attn_pdrop: 0.1,
    layer_norm_epsilon: 1e-5,
    initializer_range: 0.02,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    ...raw,
  } as DecoderConfig;
  for (const k of ["vocab_size", "n_positions", "n_embd", "n_layer", "n_head"] as const) {
    if (!Number.isInteger(cfg[k]) || (cfg[k] as number) <= 0)
      throw new ConfigError(
        `config.json: ${k} must be a positive integer, got ${JSON.stringify(cfg[k])}. Fix the config or re-save the model with transformers.`,
      );
  }
  if (cfg.n_embd % cfg.n_head !== 0) throw new ConfigError(`config.json: n_embd ${cfg.n_embd} is not a multiple of n_head ${cfg.n_head}: fix one of them.`);
  return cfg;
}

/** One block's Conv1D modules. */
interface DecoderBlock {
  name: string;
  cAttn: Linear;
  attnProj: Linear;
  cFc: Linear;
  mlpProj: Linear;
}

/**
 * GPT-2 with a causal-LM, sequence-classification or token-classification head. Build it with
 * `loadPretrained` / `createModel` (pretrained.ts).
 *
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/fixtures/hf/tiny-gpt2-lm");
 * const tokenizer = await loadTokenizer("datasets/fixtures/hf/tiny-gpt2-lm");
 * const enc = tokenizer.encodeBatch(["the cat sat on the mat"]);
 * const inputIds = tf.tensor2d(enc.inputIds, undefined, "int32");
 * const attentionMask = tf.tensor2d(enc.attentionMask, undefined, "int32");
 * const logits = model.forward({ inputIds, attentionMask }, { training: false }); // [batch, length, vocab]
 * const loss = model.loss(logits, inputIds); // labels: the ids themselves, shifted inside
 * ```
 */
export class DecoderModel extends HeadedModel implements Model {
  readonly config: DecoderConfig;
  readonly headModules: string[];
  /** Outputs of the head: the vocabulary size for a causal LM, else the number of labels. */
  readonly numLabels: number;
  readonly prefix = "transformer";
  protected readonly headImpl: Head;
  private readonly blocks: DecoderBlock[] = [];

  /**
   * @param source supplies every declared parameter's values (a checkpoint, or a seeded init).
   */
  constructor(config: ModelConfig, head: HeadKind, numLabels: number, source: ParamSource, store = new ParamStore()) {
    super(head, store);
    const c = decoderConfig(config);
    this.config = c;
    const h = c.n_embd;
    const inner = c.n_inner ?? 4 * h;
    const std = c.initializer_range;
    // HF scales the init of the residual projections by 1/√(2·n_layer) (GPT-2 paper).
    const projStd = std / Math.sqrt(2 * c.n_layer);
    const specs: ParamSpec[] = [
      { name: "transformer.wte.weight", shape: [c.vocab_size, h], role: "base", init: "normal", std },
      { name: "transformer.wpe.weight", shape: [c.n_positions, h], role: "base", init: "normal", std },
    ];
    const conv = (name: string, inF: number, outF: number, initStd: number) => {
      const l = new Linear(store, name, inF, outF, true, true);
      this.linears.set(name, l);
      specs.push(...linearSpecs(name, inF, outF, initStd, "base", { fanInFanOut: true }));
      return l;
    };
    for (let i = 0; i < c.n_layer; i++) {
      const n = `transformer.h.${i}`;
      specs.push(...layerNormSpecs(`${n}.ln_1`, h));
      const cAttn = conv(`${n}.attn.c_attn`, h, 3 * h, std);
      const attnProj = conv(`${n}.attn.c_proj`, h, h, projStd);
      specs.push(...layerNormSpecs(`${n}.ln_2`, h));
      const cFc = conv(`${n}.mlp.c_fc`, h, inner, std);
      const mlpProj = conv(`${n}.mlp.c_proj`, inner, h, projStd);
      this.blocks.push({ name: n, cAttn, attnProj, cFc, mlpProj });
    }
    specs.push(...layerNormSpecs("transformer.ln_f", h));
    const ho = { hidden: h, numLabels, dropout: c.classifier_dropout ?? 0.1, std };
    if (head === "causal-lm") this.headImpl = tiedLmHead(store, "transformer.wte.weight", c.vocab_size);
    else if (head === "sequence-classification") this.headImpl = lastTokenSequenceHead(store, ho);
    else this.headImpl = tokenClassificationHead(store, ho);
    this.numLabels = this.headImpl.numLabels;
    specs.push(...this.headImpl.specs);
    for (const l of this.headImpl.linears) this.linears.set(l.name, l);
    this.headModules = [...this.headImpl.modules];
    addParams(store, specs, source);
  }

  /** The HF class this model corresponds to. */
  get architecture(): string {
    return this.head === "causal-lm"
      ? "GPT2LMHeadModel"
      : this.head === "sequence-classification"
        ? "GPT2ForSequenceClassification"
        : "GPT2ForTokenClassification";
  }

  /** Final hidden states after `ln_f`, `[batch, length, n_embd]`. */
  decode(inputs: ModelInputs, ctx: ForwardContext): tf.Tensor3D {
    const c = this.config;
    const s = this.params;
    return tf.tidy(() => {
      const ids = tf.cast(inputs.inputIds, "int32") as tf.Tensor2D;
      const [b, t] = ids.shape;
      if (t > c.n_positions)
        throw new ConfigError(`the batch is ${t} tokens long but GPT-2 has ${c.n_positions} positions: truncate to maxLength ≤ ${c.n_positions}.`);
      // Position ids 0..T−1, as HF uses without a cache (right padding leaves real tokens at 0..n−1).
      const positions = tf.range(0, t, 1, "int32");
      let x = tf.add(tf.gather(s.get("transformer.wte.weight"), ids), tf.gather(s.get("transformer.wpe.weight"), positions));
      x = dropout(x, c.embd_pdrop, modelDropoutContext(ctx));
      // Causal mask (key j > query i) plus padded keys, additive, [B, 1, T, T].
      const row = tf.range(0, t).reshape([t, 1]);
      const col = tf.range(0, t).reshape([1, t]);
      const causal = tf.mul(tf.cast(tf.greater(col, row), "float32"), -1e9);
      const pad = tf.mul(tf.sub(1, tf.cast(inputs.attentionMask, "float32")), -1e9).reshape([b, 1, 1, t]);
      const bias = tf.add(causal, pad);
      this.blocks.forEach((block, i) => {
        x = this.block(block, i, x, bias, ctx);
      });
      return layerNorm(s, "transformer.ln_f", x, c.layer_norm_epsilon) as tf.Tensor3D;
    });
  }

  /** One pre-LN block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
  private block(l: DecoderBlock, index: number, x: tf.Tensor, bias: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    const c = this.config;
    const s = this.params;
    return tf.tidy(() => {
      const [b, t, h] = x.shape as [number, number, number];
      const nh = c.n_head;
      const hd = h / nh;
      const heads = (y: tf.Tensor) => y.reshape([b, t, nh, hd]).transpose([0, 2, 1, 3]);
      const qkv = l.cAttn.forward(layerNorm(s, `${l.name}.ln_1`, x, c.layer_norm_epsilon), ctx);
      const [q, k, v] = tf.split(qkv, 3, -1).map(heads) as [tf.Tensor, tf.Tensor, tf.Tensor];
      // HF divides by √hd (scale_attn_weights), then by the layer's number (a rare config).
      const divisors = [c.scale_attn_weights ? Math.sqrt(hd) : 1, ...(c.scale_attn_by_inverse_layer_idx ? [index + 1] : [])];
      const seed = dropoutSeed(c.attn_pdrop, modelDropoutContext(ctx));
      const dropProbs = seed === undefined ? undefined : { rate: c.attn_pdrop, seed };
      const attn = attention(q, k, v, bias, { divisors, dropout: dropProbs }).transpose([0, 2, 1, 3]).reshape([b, t, h]);
      const y = tf.add(x, dropout(l.attnProj.forward(attn, ctx), c.resid_pdrop, modelDropoutContext(ctx)));
      const m = activation(c.activation_function, l.cFc.forward(layerNorm(s, `${l.name}.ln_2`, y, c.layer_norm_epsilon), ctx));
      return tf.add(y, dropout(l.mlpProj.forward(m, ctx), c.resid_pdrop, modelDropoutContext(ctx)));
    });
  }

  /** The body's hidden states, what the head reads (see {@link HeadedModel}). */
  protected body(inputs: ModelInputs, ctx: ForwardContext): tf.Tensor3D {
    return this.decode(inputs, ctx);
  }
}
