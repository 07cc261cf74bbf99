/**
 * The pieces every model is made of: a {@link ParamStore} of named parameters (HF names), the
 * {@link Linear} layer that adapters (LoRA, gated LoRA, DyLoRA, AdaLoRA) attach to, and the
 * {@link Model} interface that heads, methods and the session program against.
 *
 * Why a store with overrides: hypergradients need the forward pass as a *function* of the
 * weights (`L(W − η∇L, β)`), so every layer reads its parameters through the store, and
 * {@link ParamStore.withOverrides} swaps in plain tensors for the duration of one call.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, UnknownNameError } from "../core/errors.js";
import type { Rng } from "../core/rng.js";
import * as nn from "../ops/nn.js";
import { sigmoid, tanh } from "../ops/second-order.js";

/**
 * What a parameter is for. `base`: frozen pretrained weight; `adapter`: a PEFT method's weight
 * (LoRA factors…); `head`: the task head (trained with the adapter, PEFT `modules_to_save`);
 * `selection`: AutoLoRA's β (trained by the outer loop only).
 */
export type ParamRole = "base" | "adapter" | "head" | "selection";

/** One named parameter. */
export interface Param {
  readonly name: string;
  readonly variable: tf.Variable;
  readonly role: ParamRole;
  /** Whether the inner (weight) optimiser updates it. */
  trainable: boolean;
}

/**
 * The model's parameters by name. Forward passes read through {@link ParamStore.get}, which
 * prefers an active override.
 *
 * @example
 * ```ts
 * const store = new ParamStore();
 * store.add("w", tf.ones([2, 2]), "base");
 * store.withOverrides(new Map([["w", tf.zeros([2, 2])]]), () => store.get("w").sum().dataSync()); // [0]
 * ```
 */
export class ParamStore {
  private readonly params = new Map<string, Param>();
  private readonly overrides: Map<string, tf.Tensor>[] = [];

  /** Add a parameter (the store keeps the tensor as a variable and owns it). */
  add(name: string, value: tf.Tensor, role: ParamRole, trainable = role !== "base"): tf.Variable {
    if (this.params.has(name)) {
      throw new ConfigError(
        `parameter ${name} exists already: a method or head was attached twice; detach the first (or load a fresh model) before adding it again`,
      );
    }
    const variable = tf.variable(value, trainable, `${name}#${nextId++}`);
    this.params.set(name, { name, variable, role, trainable });
    return variable;
  }

  /** The tensor to compute with: the innermost override, else the variable. */
  get(name: string): tf.Tensor {
    for (let i = this.overrides.length - 1; i >= 0; i--) {
      const t = this.overrides[i]!.get(name);
      if (t) return t;
    }
    const p = this.params.get(name);
    if (!p) throw new UnknownNameError(`no parameter named ${name}: the model has ${this.params.size} parameters (list them with \`names()\`)`);
    return p.variable;
  }

  /** The parameter record (variable, role, trainable) or undefined. */
  param(name: string): Param | undefined {
    return this.params.get(name);
  }

  has(name: string): boolean {
    return this.params.has(name);
  }

  /** Remove and dispose a parameter. */
  delete(name: string): void {
    const p = this.params.get(name);
    if (p) {
      p.variable.dispose();
      this.params.delete(name);
    }
  }

  /** All parameters, in insertion order, optionally filtered. */
  list(filter?: (p: Param) => boolean): Param[] {
    const all = [...this.params.values()];
    return filter ? all.filter(filter) : all;
  }

  /** Names of all parameters, in insertion order. */
  names(): string[] {
    return [...this.params.keys()];
  }

  /** Run `fn` with some parameters replaced by the given tensors. */
  withOverrides<T>(overrides: Map<string, tf.Tensor>, fn: () => T): T {
    this.overrides.push(overrides);
    try {
      return fn();
    } finally {
      this.overrides.pop();
    }
  }

  /** Dispose every variable. */
  dispose(): void {
    for (const p of this.params.values()) p.variable.dispose();
    this.params.clear();
  }
}
let nextId = 0;

/** Passed down every forward pass. */
export interface ForwardContext {
  /** Dropout on (training) or off (evaluation, hypergradient checks). */
  training: boolean;
  /** Seeds dropout masks; required when `training` is true and any dropout rate is > 0. */
  rng?: Rng;
  /**
   * `false`: the model's own dropout layers (hidden, attention, head) stay off while `training`
   * still turns on the adapters' dropout. Default: they follow `training`.
   */
  modelDropout?: boolean;
}

/** The context for a model's own dropout layers (see {@link ForwardContext.modelDropout}). */
export function modelDropoutContext(ctx: ForwardContext): ForwardContext {
  return ctx.modelDropout === false && ctx.training ? { ...ctx, training: false } : ctx;
}

/**
 * Something added to a frozen {@link Linear}'s output: `y = base(x) + adapter.forward(x)`.
 * Each PEFT method (in `sdk/methods/*`) implements one.
 */
export interface LinearAdapter {
  /** The method's name (`lora`, `autolora`, `dylora`, `adalora`, …). */
  readonly kind: string;
  /** `x`: `[..., in]` → `[..., out]`, added to the frozen layer's output. */
  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor;
  /** When set, the adapter computes the whole output itself (used by merged/unmerged paths). */
  readonly replacesBase?: boolean;
}

/**
 * A frozen linear layer `y = x Wᵀ + b` reading `name.weight` (`[out, in]`, HF layout) and
 * `name.bias` from the store. GPT-2's `Conv1D` stores `[in, out]`: `fanInFanOut` says so (PEFT's
 * flag of the same name).
 */
export class Linear {
  /** The adapter attached by a PEFT method, if any. */
  adapter: LinearAdapter | undefined;

  constructor(
    readonly store: ParamStore,
    /** Module name, e.g. `bert.encoder.layer.0.attention.self.query`. */
    readonly name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    readonly hasBias = true,
    readonly fanInFanOut = false,
  ) {}

  /** The frozen weight in `[out, in]` layout, whatever the storage layout. */
  weightOutIn(): tf.Tensor2D {
    const w = this.store.get(`${this.name}.weight`) as tf.Tensor2D;
    return this.fanInFanOut ? w.transpose() : w;
  }

  /** The frozen part only: `x Wᵀ + b`. */
  base(x: tf.Tensor): tf.Tensor {
    const shape = x.shape;
    const x2 = x.reshape([-1, this.inFeatures]) as tf.Tensor2D;
    const w = this.store.get(`${this.name}.weight`) as tf.Tensor2D;
    const bias = this.hasBias ? (this.store.get(`${this.name}.bias`) as tf.Tensor1D) : undefined;
    // On webgpu the bias is added inside the matmul (sdk/ops/nn.ts).
    return nn.linear(x2, w, bias, !this.fanInFanOut).reshape([...shape.slice(0, -1), this.outFeatures]);
  }

  /** Frozen output plus the adapter's contribution. */
  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    if (!this.adapter) return this.base(x);
    if (this.adapter.replacesBase) return this.adapter.forward(x, ctx);
    return tf.add(this.base(x), this.adapter.forward(x, ctx));
  }
}

/** Which output a model computes. */
export type HeadKind = "sequence-classification" | "token-classification" | "causal-lm";

/** Inputs of a forward pass: token ids and a 1/0 attention mask, both `[batch, length]` int32. */
export interface ModelInputs {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  /** BERT segment ids; zeros when absent. */
  tokenTypeIds?: tf.Tensor2D;
}

/** Plain-array inputs for {@link Model.predict}. */
export interface PlainInputs {
  inputIds: number[][];
  attentionMask?: number[][];
  tokenTypeIds?: number[][];
}

/** A model's HF `config.json`, with the fields we read typed and the rest kept as is. */
export interface ModelConfig {
  model_type: "bert" | "roberta" | "gpt2" | "deberta-v2" | "llama" | "qwen2" | "mistral";
  architectures: string[];
  vocab_size: number;
  num_labels?: number;
  [key: string]: unknown;
}

/** Options of a model's `save` (sdk/models/io.ts' `saveModel`). */
export interface SaveModelOptions {
  /**
   * How float weights are stored: `F32` (default), `F16` or `BF16` (half the file; rounded to
   * nearest, ties to even, as PyTorch's `.to(dtype)`); `config.json`'s `torch_dtype` says which.
   */
  dtype?: "F32" | "F16" | "BF16";
}

/**
 * A loaded transformer with its head. Implemented by `EncoderModel` (BERT/RoBERTa),
 * `DecoderModel` (GPT-2) and `LlamaModel` (Llama, Qwen2, Mistral).
 */
export interface Model {
  readonly config: ModelConfig;
  readonly head: HeadKind;
  /** Outputs of a classification head (1 = regression); the vocabulary size for a causal LM. */
  readonly numLabels: number;
  /** Every parameter, HF names. */
  readonly params: ParamStore;
  /** Every linear layer by module name: where adapters attach. */
  readonly linears: Map<string, Linear>;
  /** Names of the head's modules (PEFT `modules_to_save` for this architecture). */
  readonly headModules: string[];
  /**
   * Logits: `[batch, labels]` (sequence classification), `[batch, length, labels]` (token
   * classification), `[batch, length, vocab]` (causal LM).
   */
  forward(inputs: ModelInputs, ctx: ForwardContext): tf.Tensor;
  /**
   * The head's loss. `labels`: `[batch]` int class ids, or float targets when `num_labels` is 1
   * (MSE); `[batch, length]` with −100 for ignored positions (token classification, causal LM,
   * where the shift by one happens inside).
   */
  loss(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar;
  /** Logits as plain nested arrays (evaluation mode, no gradients). */
  predict(inputs: PlainInputs): Promise<number[][] | number[][][]>;
  /**
   * Write `config.json` + `model.safetensors` in HF format (adapters merged out: base only);
   * `options.dtype` stores the weights as F16 or BF16 (default F32).
   */
  save(dir: string, options?: SaveModelOptions): Promise<void>;
  dispose(): void;
}

// ---------------------------------------------------------------------------------------------
// Building blocks shared by the encoder, the decoder and the heads (added with encoder.ts):
// parameter declarations, LayerNorm, dropout, activations. Functional, reading the store, so
// overrides and adapters see every use.

/**
 * A parameter a model declares: its HF name, shape, role, and how to initialise it when no
 * checkpoint supplies it (HF `_init_weights`: linear/embedding weights `normal(0, std)`, biases
 * zero, LayerNorm weight one; `zeroRow` zeroes an embedding's padding row).
 */
export interface ParamSpec {
  name: string;
  shape: number[];
  role: ParamRole;
  init: "normal" | "zeros" | "ones";
  /** Standard deviation of a `normal` init (the config's `initializer_range` unless set). */
  std?: number;
  /** Embedding row set to zero (`padding_idx`). */
  zeroRow?: number;
  /** May be freshly initialised when a checkpoint lacks it (BERT's pooler in an MLM checkpoint). */
  optional?: boolean;
}

/** Supplies the values of a declared parameter (from a checkpoint, or a seeded init). */
export type ParamSource = (spec: ParamSpec) => Float32Array;

/**
 * Add declared parameters to a store, taking their values from `source`.
 *
 * @example
 * ```ts
 * addParams(store, [{ name: "w", shape: [2], role: "base", init: "ones" }], (s) => new Float32Array(2).fill(1));
 * ```
 */
export function addParams(store: ParamStore, specs: readonly ParamSpec[], source: ParamSource): void {
  for (const spec of specs) {
    const values = source(spec);
    const t = tf.tensor(values, spec.shape, "float32");
    store.add(spec.name, t, spec.role);
    t.dispose();
  }
}

/**
 * LayerNorm over the last axis with `name.weight` / `name.bias` from the store (biased variance,
 * as torch computes it): sdk/ops' `layerNorm` (one fused dispatch each way on webgpu).
 *
 * @example
 * ```ts
 * const store = new ParamStore();
 * store.add("ln.weight", tf.ones([8]), "base");
 * store.add("ln.bias", tf.zeros([8]), "base");
 * const x = tf.randomNormal([2, 5, 8]);
 * const y = layerNorm(store, "ln", x, 1e-12); // each row of 8: mean 0, variance 1
 * ```
 */
export function layerNorm(store: ParamStore, name: string, x: tf.Tensor, eps: number): tf.Tensor {
  return nn.layerNorm(x, store.get(`${name}.weight`), store.get(`${name}.bias`), eps);
}

/**
 * Inverted dropout, active only when `ctx.training` and `rate > 0`; masks are seeded from
 * `ctx.rng` so a run is reproducible (sdk/ops' `dropout`: on webgpu the mask comes from a device
 * kernel, reproducible too, but a different random stream from cpu/wasm).
 *
 * @example
 * ```ts
 * const x = tf.ones([2, 8]);
 * const y = dropout(x, 0.1, { training: true, rng: new Rng(0) }); // entries 0 or 1/0.9
 * dropout(x, 0.1, { training: false }); // x itself
 * ```
 */
export function dropout(x: tf.Tensor, rate: number, ctx: ForwardContext): tf.Tensor {
  const seed = dropoutSeed(rate, ctx);
  return seed === undefined ? x : nn.dropout(x, rate, seed);
}

/**
 * The seed of the next dropout mask, drawn from `ctx.rng`, or undefined when there is no dropout
 * (evaluation, or `rate` 0: then nothing is drawn, so the random stream does not move).
 *
 * @example
 * ```ts
 * dropoutSeed(0.1, { training: true, rng: new Rng(0) }); // a number
 * dropoutSeed(0.1, { training: false }); // undefined
 * ```
 */
export function dropoutSeed(rate: number, ctx: ForwardContext): number | undefined {
  if (!ctx.training || !(rate > 0)) return undefined;
  if (!ctx.rng)
    throw new ConfigError("a training forward pass with dropout needs ctx.rng: pass { training: true, rng: new Rng(seed) }, or set training: false.");
  return ctx.rng.tfSeed();
}

/** Activation names read from HF configs (`hidden_act`, `activation_function`). */
export type ActivationName = "gelu" | "gelu_new" | "gelu_pytorch_tanh" | "relu" | "tanh" | "silu" | "swish";

/**
 * Apply an HF activation by name (tanh and sigmoid from sdk/ops/second-order.ts, so that second
 * derivatives, which the exact hypergradient needs, are right): `gelu` is the exact erf GELU,
 * `gelu_new` / `gelu_pytorch_tanh` the tanh approximation (GPT-2), both sdk/ops' `gelu` (one fused
 * dispatch each way on webgpu).
 *
 * @example
 * ```ts
 * activation("gelu", tf.tensor([0, 1])); // [0, 0.8413]
 * ```
 */
export function activation(name: string, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    switch (name) {
      case "gelu":
        return nn.gelu(x, "none");
      case "gelu_new":
      case "gelu_pytorch_tanh":
        return nn.gelu(x, "tanh");
      case "relu":
        return tf.relu(x);
      case "tanh":
        return tanh(x);
      case "silu":
      case "swish":
        return tf.mul(x, sigmoid(x));
      default:
        throw new UnknownNameError(`unknown activation "${name}" in the model config: use one of gelu, gelu_new, gelu_pytorch_tanh, relu, tanh, silu.`);
    }
  });
}
