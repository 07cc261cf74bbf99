/**
 * Hugging Face checkpoints in and out: {@link loadPretrained} reads a folder written by
 * `save_pretrained` (`config.json` + `model.safetensors`), {@link createModel} builds a randomly
 * initialised model from a config; `saveModel` (io.ts) writes one back in the same format.
 *
 * A checkpoint need not carry the head you ask for: a base (`BertModel`) or masked-LM
 * (`BertForMaskedLM`, `RobertaForMaskedLM`) checkpoint loads its encoder and ignores `cls.*` /
 * `lm_head.*`; a missing head (or one with another number of labels) is initialised fresh as HF
 * does (`normal(0, initializer_range)` weights, zero biases), seeded through {@link Rng}.
 * @module
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { resolveInside } from "../core/confine.js";
import { CheckpointError, ConfigError, ShapeMismatchError, UnknownNameError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { DebertaModel } from "./deberta.js";
import { DecoderModel } from "./decoder.js";
import { EncoderModel } from "./encoder.js";
import { LlamaModel, llamaConfig } from "./llama.js";
import { type HeadKind, type ModelConfig, type ParamSource, type ParamSpec, ParamStore } from "./module.js";
import { readSafetensors, type StoredTensor } from "./safetensors.js";

/** A model built by this module: a BERT/RoBERTa/DeBERTa-v2 encoder, a GPT-2 or Llama-family decoder, with its head. */
export type PretrainedModel = EncoderModel | DecoderModel | DebertaModel | LlamaModel;

/** Options of {@link loadPretrained} and {@link createModel}. */
export interface LoadOptions {
  /** The head to build; default: the checkpoint's, else sequence classification (encoders) or causal LM (GPT-2). */
  head?: HeadKind;
  /** Outputs of a classification head (1 = regression); default: the config's `id2label` size, else 2. */
  numLabels?: number;
  /** Seeds the initialisation of whatever the checkpoint does not supply (default 0). */
  seed?: number;
  /**
   * Refuse a checkpoint holding body weights the config does not use (e.g. `num_hidden_layers: 1`
   * with two layers of weights), listing them (default true). `false` loads and ignores them.
   * Heads the model does not build (`cls.*`, `lm_head.*`, another task's head) and HF's buffers
   * (`position_ids`, GPT-2's `attn.bias`) are ignored either way.
   */
  strict?: boolean;
  /** Load NaN / infinite weights instead of refusing them (to inspect a broken checkpoint). Default false. */
  allowNonFinite?: boolean;
}

/** A config for {@link createModel}: `model_type` plus any HF fields (the rest take HF's defaults). */
export type ConfigInput = Partial<ModelConfig> & Pick<ModelConfig, "model_type">;

/**
 * The HF architectures we read, their model type, and the head their checkpoint carries
 * (`undefined`: none we use, e.g. a base or masked-LM checkpoint).
 */
export const ARCHITECTURES: Readonly<Record<string, { modelType: ModelConfig["model_type"]; head: HeadKind | undefined }>> = {
  BertModel: { modelType: "bert", head: undefined },
  BertForMaskedLM: { modelType: "bert", head: undefined },
  BertForPreTraining: { modelType: "bert", head: undefined },
  BertForSequenceClassification: { modelType: "bert", head: "sequence-classification" },
  BertForTokenClassification: { modelType: "bert", head: "token-classification" },
  RobertaModel: { modelType: "roberta", head: undefined },
  RobertaForMaskedLM: { modelType: "roberta", head: undefined },
  RobertaForSequenceClassification: { modelType: "roberta", head: "sequence-classification" },
  RobertaForTokenClassification: { modelType: "roberta", head: "token-classification" },
  GPT2Model: { modelType: "gpt2", head: undefined },
  GPT2LMHeadModel: { modelType: "gpt2", head: "causal-lm" },
  GPT2ForSequenceClassification: { modelType: "gpt2", head: "sequence-classification" },
  GPT2ForTokenClassification: { modelType: "gpt2", head: "token-classification" },
  DebertaV2Model: { modelType: "deberta-v2", head: undefined },
  DebertaV2ForMaskedLM: { modelType: "deberta-v2", head: undefined },
  DebertaV2ForSequenceClassification: { modelType: "deberta-v2", head: "sequence-classification" },
  DebertaV2ForTokenClassification: { modelType: "deberta-v2", head: "token-classification" },
  LlamaModel: { modelType: "llama", head: undefined },
  LlamaForCausalLM: { modelType: "llama", head: "causal-lm" },
  LlamaForSequenceClassification: { modelType: "llama", head: "sequence-classification" },
  Qwen2Model: { modelType: "qwen2", head: undefined },
  Qwen2ForCausalLM: { modelType: "qwen2", head: "causal-lm" },
  Qwen2ForSequenceClassification: { modelType: "qwen2", head: "sequence-classification" },
  MistralModel: { modelType: "mistral", head: undefined },
  MistralForCausalLM: { modelType: "mistral", head: "causal-lm" },
  MistralForSequenceClassification: { modelType: "mistral", head: "sequence-classification" },
};

const MODEL_TYPES = ["bert", "roberta", "gpt2", "deberta-v2", "llama", "qwen2", "mistral"] as const;
/** The decoders: a causal-LM head is theirs, and their default head. */
const DECODER_TYPES: readonly string[] = ["gpt2", "llama", "qwen2", "mistral"];
const LLAMA_TYPES: readonly string[] = ["llama", "qwen2", "mistral"];

/**
 * Full-size configs by their Hub names, for {@link createModel} (benchmarks, shape checks).
 *
 * @example
 * ```ts
 * // roberta-base's shapes with one layer and a small vocabulary (the full preset: ~125M parameters).
 * const model = createModel({ ...PRESET_CONFIGS["roberta-base"], num_hidden_layers: 1, vocab_size: 1000 }, { seed: 0, numLabels: 2 });
 * ```
 */
export const PRESET_CONFIGS: Readonly<Record<"bert-base-uncased" | "roberta-base" | "gpt2", ConfigInput>> = {
  "bert-base-uncased": { model_type: "bert", architectures: ["BertForMaskedLM"], vocab_size: 30522 },
  "roberta-base": {
    model_type: "roberta",
    architectures: ["RobertaForMaskedLM"],
    vocab_size: 50265,
    max_position_embeddings: 514,
    type_vocab_size: 1,
    layer_norm_eps: 1e-5,
    pad_token_id: 1,
    bos_token_id: 0,
    eos_token_id: 2,
  },
  gpt2: { model_type: "gpt2", architectures: ["GPT2LMHeadModel"], vocab_size: 50257, bos_token_id: 50256, eos_token_id: 50256 },
};

const HEADS: readonly HeadKind[] = ["sequence-classification", "token-classification", "causal-lm"];

/** Refuse options of the wrong type before any work (a typo'd head, a NaN seed, strict: "no"). */
function checkLoadOptions(opts: LoadOptions, where: string): void {
  if (typeof opts !== "object" || opts === null) throw new ConfigError(`${where}: options must be an object, got ${JSON.stringify(opts)}.`);
  if (opts.head !== undefined && !HEADS.includes(opts.head))
    throw new ConfigError(`${where}: head ${JSON.stringify(opts.head)} is not one of ${HEADS.map((h) => `"${h}"`).join(", ")}.`);
  if (opts.seed !== undefined && !(typeof opts.seed === "number" && Number.isFinite(opts.seed)))
    throw new ConfigError(`${where}: seed must be a finite number, got ${JSON.stringify(opts.seed)}.`);
  for (const k of ["strict", "allowNonFinite"] as const) {
    if (opts[k] !== undefined && typeof opts[k] !== "boolean") throw new ConfigError(`${where}: ${k} must be true or false, got ${JSON.stringify(opts[k])}.`);
  }
}

/** HF's fresh init of one parameter, from the seeded generator. */
function freshValues(spec: ParamSpec, rng: Rng, std: number): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (spec.init === "ones") out.fill(1);
  else if (spec.init === "normal") {
    const s = spec.std ?? std;
    for (let i = 0; i < n; i++) out[i] = s * rng.normal();
    if (spec.zeroRow !== undefined && spec.zeroRow >= 0 && spec.zeroRow < spec.shape[0]!) {
      const w = n / spec.shape[0]!;
      out.fill(0, spec.zeroRow * w, (spec.zeroRow + 1) * w);
    }
  }
  return out;
}

/** Build the model; when `source` or the constructor throws half-way, the parameters made so far are disposed. */
function build(config: ModelConfig, head: HeadKind, numLabels: number, source: ParamSource): PretrainedModel {
  const store = new ParamStore();
  try {
    if (config.model_type === "gpt2") return new DecoderModel(config, head, numLabels, source, store);
    if (config.model_type === "deberta-v2") return new DebertaModel(config, head, numLabels, source, store);
    if (LLAMA_TYPES.includes(config.model_type)) return new LlamaModel(config, head, numLabels, source, store);
    return new EncoderModel(config, head, numLabels, source, store);
  } catch (e) {
    store.dispose();
    throw e;
  }
}

/** The number of labels a config declares (`num_labels`, else the size of `id2label`). */
function configLabels(config: ModelConfig): number | undefined {
  if (typeof config.num_labels === "number") return config.num_labels;
  const id2label = config.id2label;
  if (id2label && typeof id2label === "object") return Object.keys(id2label).length;
  return undefined;
}

const ACTIVATIONS = ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "tanh", "silu", "swish"];

/**
 * The type and range of every `config.json` field a model reads, per model type. `int`: integer
 * ≥ the bound; `prob`: in [0, 1); `pos`: finite > 0; `nonneg`: finite ≥ 0; `id`: a token id
 * (integer ≥ 0) or null; `?` suffix: null allowed.
 */
const CONFIG_FIELDS: Record<ModelConfig["model_type"], Record<string, string>> = {
  bert: {
    vocab_size: "int1",
    hidden_size: "int1",
    num_hidden_layers: "int1",
    num_attention_heads: "int1",
    intermediate_size: "int1",
    max_position_embeddings: "int1",
    type_vocab_size: "int1",
    layer_norm_eps: "pos",
    hidden_dropout_prob: "prob",
    attention_probs_dropout_prob: "prob",
    classifier_dropout: "prob?",
    initializer_range: "nonneg",
    pad_token_id: "int0",
    bos_token_id: "int0?",
    eos_token_id: "int0?",
    num_labels: "int1",
    hidden_act: "act",
  },
  roberta: {},
  gpt2: {
    vocab_size: "int1",
    n_positions: "int1",
    n_embd: "int1",
    n_layer: "int1",
    n_head: "int1",
    n_inner: "int1?",
    layer_norm_epsilon: "pos",
    resid_pdrop: "prob",
    embd_pdrop: "prob",
    attn_pdrop: "prob",
    classifier_dropout: "prob?",
    initializer_range: "nonneg",
    pad_token_id: "int0?",
    bos_token_id: "int0?",
    eos_token_id: "int0?",
    num_labels: "int1",
    activation_function: "act",
    scale_attn_weights: "bool",
    scale_attn_by_inverse_layer_idx: "bool",
  },
  "deberta-v2": {},
  llama: {
    vocab_size: "int1",
    hidden_size: "int1",
    intermediate_size: "int1",
    num_hidden_layers: "int1",
    num_attention_heads: "int1",
    num_key_value_heads: "int1?",
    head_dim: "int1?",
    max_position_embeddings: "int1",
    rms_norm_eps: "pos",
    attention_dropout: "prob",
    initializer_range: "nonneg",
    pad_token_id: "int0?",
    num_labels: "int1",
    hidden_act: "act",
    attention_bias: "bool",
    mlp_bias: "bool",
    tie_word_embeddings: "bool",
    sliding_window: "int1?",
    use_sliding_window: "bool",
  },
  qwen2: {},
  mistral: {},
};
CONFIG_FIELDS.roberta = CONFIG_FIELDS.bert;
// bos/eos are not checked for the Llama family: Llama 3 lists several end tokens.
CONFIG_FIELDS.qwen2 = CONFIG_FIELDS.llama;
CONFIG_FIELDS.mistral = CONFIG_FIELDS.llama;
CONFIG_FIELDS["deberta-v2"] = {
  ...CONFIG_FIELDS.bert,
  type_vocab_size: "int0",
  max_relative_positions: "int-1",
  position_buckets: "int-1",
  relative_attention: "bool",
  share_att_key: "bool",
  position_biased_input: "bool",
  pooler_hidden_size: "int1",
  pooler_dropout: "prob",
  pooler_hidden_act: "act",
};

/**
 * Type-check the fields of a config that the model reads (those present; absent ones take HF's
 * defaults), so that `layer_norm_eps: "abc"` is refused here, naming the file and field, rather
 * than failing inside tfjs at predict time.
 */
function checkConfigFields(config: ModelConfig, where: string): void {
  const fields = CONFIG_FIELDS[config.model_type];
  for (const [field, kind] of Object.entries(fields)) {
    if (!(field in config)) continue;
    const v = config[field];
    const nullable = kind.endsWith("?");
    if (v === null && nullable) continue;
    const k = nullable ? kind.slice(0, -1) : kind;
    let ok: boolean;
    let want: string;
    if (k === "act") {
      ok = typeof v === "string" && ACTIVATIONS.includes(v);
      want = `one of ${ACTIVATIONS.join(", ")}`;
    } else if (k === "bool") {
      ok = typeof v === "boolean";
      want = "true or false";
    } else {
      const n = v as number;
      const isNum = typeof v === "number" && Number.isFinite(v);
      if (k.startsWith("int")) {
        const min = Number(k.slice(3));
        ok = isNum && Number.isInteger(n) && n >= min;
        want = min === 1 ? "a positive integer" : `an integer ≥ ${min}`;
      } else if (k === "prob") {
        ok = isNum && n >= 0 && n < 1;
        want = "a number in [0, 1)";
      } else if (k === "pos") {
        ok = isNum && n > 0;
        want = "a finite number > 0";
      } else {
        ok = isNum && n >= 0;
        want = "a finite number ≥ 0";
      }
    }
    if (!ok) {
      throw new ConfigError(
        `${where}: ${field} is ${JSON.stringify(v)}, but it must be ${want}${nullable ? " (or null)" : ""}. Fix the config, or re-save the model with transformers.`,
      );
    }
  }
  if (config.id2label !== undefined && (typeof config.id2label !== "object" || config.id2label === null || Array.isArray(config.id2label)))
    throw new ConfigError(`${where}: id2label is ${JSON.stringify(config.id2label)}, but it must be an object { "0": "LABEL_0", … }. Fix the config.`);
  if (config.architectures !== undefined && !(Array.isArray(config.architectures) && config.architectures.every((a) => typeof a === "string")))
    throw new ConfigError(`${where}: architectures is ${JSON.stringify(config.architectures)}, but it must be a list of class names. Fix the config.`);
  // The whole Llama-family config (GQA shapes, RoPE type and parameters), before any weight is read.
  if (LLAMA_TYPES.includes(config.model_type)) llamaConfig(config, where);
}

function checkModelType(config: ModelConfig, where: string): void {
  if (!MODEL_TYPES.includes(config.model_type)) {
    throw new UnknownNameError(
      `${where}: model_type ${JSON.stringify(config.model_type)} is not supported; autolora builds ${MODEL_TYPES.join(", ")} models. Use a checkpoint of one of those (e.g. roberta-base).`,
    );
  }
}

function resolveHead(config: ModelConfig, opts: LoadOptions, checkpointHead: HeadKind | undefined): { head: HeadKind; numLabels: number } {
  const decoder = DECODER_TYPES.includes(config.model_type);
  const head = opts.head ?? checkpointHead ?? (decoder ? "causal-lm" : "sequence-classification");
  if (head === "causal-lm" && !decoder) {
    throw new ConfigError(
      `a ${config.model_type} encoder has no causal-lm head in autolora: use head "sequence-classification" or "token-classification", or a decoder checkpoint (GPT-2, Llama, Qwen2, Mistral).`,
    );
  }
  const numLabels = opts.numLabels ?? configLabels(config) ?? 2;
  if (head !== "causal-lm" && (!Number.isInteger(numLabels) || numLabels < 1)) {
    throw new ConfigError(`numLabels must be a positive integer (1 for regression), got ${numLabels}.`);
  }
  return { head, numLabels };
}

/**
 * Build a randomly initialised model from a config (HF init: `normal(0, initializer_range)`
 * weights, zero biases, unit LayerNorm), seeded. Missing config fields take HF's defaults.
 *
 * @example
 * ```ts
 * const model = createModel({ model_type: "bert", vocab_size: 100, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64 }, { seed: 0, numLabels: 2 });
 * model.linears.get("bert.encoder.layer.0.attention.self.query"); // a Linear, 32 → 32
 * console.log(await model.predict({ inputIds: [[2, 40, 3]] })); // [[logit, logit]]
 * ```
 */
export function createModel(config: ConfigInput, opts: LoadOptions = {}): PretrainedModel {
  checkLoadOptions(opts, "createModel");
  const vocab = { bert: 30522, roberta: 50265, gpt2: 50257, "deberta-v2": 128100, llama: 32000, qwen2: 151936, mistral: 32000 } as const;
  const full = { architectures: [], vocab_size: vocab[config.model_type] ?? 0, ...config } as ModelConfig;
  checkModelType(full, "createModel");
  checkConfigFields(full, "createModel config");
  const known = full.architectures[0] ? ARCHITECTURES[full.architectures[0]] : undefined;
  const { head, numLabels } = resolveHead(full, opts, known?.head);
  const rng = new Rng(opts.seed ?? 0);
  const std = typeof full.initializer_range === "number" ? full.initializer_range : 0.02;
  return build(full, head, numLabels, (spec) => freshValues(spec, rng, std));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Every tensor of the folder's `model.safetensors` (or its shards, via the index); every file read resolves inside `dir`. */
async function readWeights(dir: string): Promise<{ tensors: Map<string, StoredTensor>; file: string }> {
  const single = join(dir, "model.safetensors");
  if (await exists(single)) return { tensors: (await readSafetensors(await resolveInside(dir, "model.safetensors", dir))).tensors, file: single };
  const index = join(dir, "model.safetensors.index.json");
  if (await exists(index)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(await resolveInside(dir, "model.safetensors.index.json", dir), "utf8"));
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      throw new CheckpointError(`${index} does not parse as JSON (${(e as Error).message}): re-save the model with save_pretrained.`, { cause: e });
    }
    const weightMap = (parsed as { weight_map?: unknown } | null)?.weight_map;
    if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap))
      throw new CheckpointError(`${index} has no weight_map object (tensor name → shard file): re-save the model with save_pretrained.`);
    const entries = Object.entries(weightMap as Record<string, unknown>);
    for (const [k, v] of entries) {
      if (typeof v !== "string")
        throw new CheckpointError(`${index}: weight_map.${k} is ${JSON.stringify(v)}, not a shard file name: re-save the model with save_pretrained.`);
    }
    // Every shard is confined before any is read.
    const shards = new Map<string, string>();
    for (const shard of new Set(entries.map(([, v]) => v as string))) shards.set(shard, await resolveInside(dir, shard, index));
    const tensors = new Map<string, StoredTensor>();
    const from = new Map<string, string>();
    for (const [shard, path] of shards) {
      for (const [k, v] of (await readSafetensors(path)).tensors) {
        if (tensors.has(k))
          throw new CheckpointError(`${index}: tensor ${k} is stored in both ${from.get(k)} and ${shard}: re-save the model with save_pretrained.`);
        tensors.set(k, v);
        from.set(k, shard);
      }
    }
    for (const [k, shard] of entries) {
      if (from.get(k) !== shard)
        throw new CheckpointError(
          `${index} says tensor ${k} is in ${shard as string} but ${from.has(k) ? `it is in ${from.get(k)}` : "no shard holds it"}: the index does not belong to these shards; re-save the model with save_pretrained.`,
        );
    }
    return { tensors, file: index };
  }
  for (const other of ["pytorch_model.bin", "tf_model.h5", "flax_model.msgpack"]) {
    if (await exists(join(dir, other))) {
      throw new CheckpointError(
        `${dir} has ${other} but no model.safetensors: autolora reads safetensors only. Convert it in Python: ` +
          `model = AutoModel...from_pretrained(dir); model.save_pretrained(dir, safe_serialization=True).`,
      );
    }
  }
  throw new CheckpointError(
    `${dir} has no model.safetensors: a Hugging Face checkpoint folder holds config.json and model.safetensors (save_pretrained(dir, safe_serialization=True) writes both).`,
  );
}

/** Names a checkpoint may use for one of our parameters, most specific first. */
function candidateNames(name: string, prefix: string): string[] {
  const names = [name];
  // A base model (BertModel, GPT2Model) is saved without its prefix (`embeddings.…`, `h.0.…`).
  if (name.startsWith(`${prefix}.`)) names.push(name.slice(prefix.length + 1));
  // Old TF-converted checkpoints call LayerNorm's parameters gamma / beta.
  for (const n of [...names]) {
    if (/LayerNorm\.weight$/.test(n)) names.push(n.replace(/weight$/, "gamma"));
    if (/LayerNorm\.bias$/.test(n)) names.push(n.replace(/bias$/, "beta"));
  }
  return names;
}

/**
 * Load a Hugging Face checkpoint folder (`config.json` + `model.safetensors`) as a model with
 * HF parameter names. Base and masked-LM checkpoints load too; a head the checkpoint lacks is
 * initialised from `seed`.
 *
 * The folder is untrusted input, checked before the model is used: every file it names (config,
 * weights, the shards of `model.safetensors.index.json`) must resolve inside it, symlinks
 * followed (the Hub cache's `snapshots/<rev>` → `blobs/` links are allowed); every `config.json`
 * field the model reads is type-checked; weights must be float dtypes and finite (unless
 * `allowNonFinite`); and body weights the config does not use are refused (unless `strict: false`).
 * Errors are {@link CheckpointError} (missing, unreadable, corrupt or out-of-folder files, bad
 * values), {@link ConfigError} (a config field of the wrong type or range), {@link UnknownNameError}
 * (architecture / model type) and {@link ShapeMismatchError}; a failed load leaves no tensors behind.
 *
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/fixtures/hf/tiny-bert-seqcls");
 * const logits = (await model.predict({ inputIds: [[2, 40, 3]] })) as number[][];
 * const tagger = await loadPretrained("datasets/fixtures/hf/tiny-bert-seqcls", { head: "token-classification", numLabels: 9, seed: 1 });
 * ```
 */
export async function loadPretrained(dir: string, opts: LoadOptions = {}): Promise<PretrainedModel> {
  checkLoadOptions(opts, "loadPretrained");
  if (typeof dir !== "string" || dir.length === 0)
    throw new ConfigError(`loadPretrained: dir must be the path of a checkpoint folder, got ${JSON.stringify(dir)}.`);
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new CheckpointError(`no folder ${dir}: give the path of a checkpoint folder written by save_pretrained (config.json + model.safetensors).`);
  if (!info.isDirectory())
    throw new CheckpointError(`${dir} is a file, not a folder: give the checkpoint's folder (the one holding config.json and model.safetensors).`);
  const configPath = join(dir, "config.json");
  let text: string;
  const realConfig = await resolveInside(dir, "config.json", dir);
  try {
    text = await readFile(realConfig, "utf8");
  } catch (e) {
    throw new CheckpointError(
      `${dir} has no config.json: a Hugging Face checkpoint folder needs it (save_pretrained writes it; for a Hub model download config.json too).`,
      { cause: e },
    );
  }
  let config: ModelConfig;
  try {
    config = JSON.parse(text) as ModelConfig;
  } catch (e) {
    throw new CheckpointError(`${configPath} is not valid JSON (${(e as Error).message}): re-save the model with save_pretrained or re-download config.json.`, {
      cause: e,
    });
  }
  if (typeof config !== "object" || config === null || Array.isArray(config))
    throw new CheckpointError(`${configPath} is not a JSON object: re-save the model with save_pretrained or re-download config.json.`);
  checkModelType(config, configPath);
  checkConfigFields(config, configPath);
  const arch = Array.isArray(config.architectures) ? config.architectures[0] : undefined;
  const known = arch === undefined ? undefined : ARCHITECTURES[arch];
  if (arch !== undefined && (!known || known.modelType !== config.model_type)) {
    if (!opts.head) {
      const ours = Object.keys(ARCHITECTURES).filter((a) => ARCHITECTURES[a]!.modelType === config.model_type);
      throw new UnknownNameError(
        `${configPath}: architecture ${arch} is not one autolora reads for model_type ${config.model_type} (known: ${ours.join(", ")}). ` +
          `Pass { head: ${LLAMA_TYPES.includes(config.model_type) ? '"sequence-classification" | "causal-lm"' : `"sequence-classification" | "token-classification"${config.model_type === "gpt2" ? ' | "causal-lm"' : ""}`} } to load only its ${config.model_type} weights with a fresh head.`,
      );
    }
  }
  const checkpointHead = known?.modelType === config.model_type ? known.head : undefined;
  const { head, numLabels } = resolveHead(config, opts, checkpointHead);
  // The checkpoint's head is used only when it is the head asked for, with as many labels.
  const useHead = checkpointHead === head && (head === "causal-lm" || numLabels === (configLabels(config) ?? 2));
  const { tensors, file } = await readWeights(dir);
  const prefix = config.model_type === "gpt2" ? "transformer" : LLAMA_TYPES.includes(config.model_type) ? "model" : config.model_type;
  const rng = new Rng(opts.seed ?? 0);
  const std = typeof config.initializer_range === "number" ? config.initializer_range : 0.02;
  const source: ParamSource = (spec) => {
    if (spec.role === "head" && !useHead) return freshValues(spec, rng, std);
    const names = candidateNames(spec.name, prefix);
    const key = names.find((n) => tensors.has(n));
    if (key === undefined) {
      if (spec.optional || spec.role === "head") return freshValues(spec, rng, std);
      throw new CheckpointError(
        `${file} has no tensor ${spec.name}${names.length > 1 ? ` (nor ${names.slice(1).join(", ")})` : ""}, which a ${config.model_type} model with this config needs: ` +
          `check that config.json belongs to these weights, or re-save the model with save_pretrained.`,
      );
    }
    const t = tensors.get(key)!;
    used.add(key);
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      throw new ShapeMismatchError(
        `${file}: tensor ${key} has shape [${t.shape}] but the model built from config.json expects [${spec.shape}]: ` +
          `the config does not match the weights (check vocab_size, hidden sizes, number of labels), or re-save the checkpoint.`,
      );
    }
    if (!(t.data instanceof Float32Array))
      throw new CheckpointError(
        `${file}: tensor ${key} is stored with an integer dtype, but it is a float weight: the file is mislabelled or corrupt. Re-save the model with save_pretrained.`,
      );
    if (!opts.allowNonFinite) {
      const i = t.data.findIndex((x) => !Number.isFinite(x));
      if (i >= 0)
        throw new CheckpointError(
          `${file}: tensor ${key} holds ${t.data[i]} at index ${i}: the weights are not finite (a diverged or corrupt save). ` +
            "Re-save them from a good state, or pass { allowNonFinite: true } to load anyway.",
        );
    }
    return t.data;
  };
  const used = new Set<string>();
  const model = build(config, head, numLabels, source);
  if (opts.strict ?? true) {
    const unused = [...tensors.keys()].filter((k) => !used.has(k) && isBodyWeight(k, prefix, useHead ? model.headModules : []));
    if (unused.length) {
      model.dispose();
      throw new CheckpointError(
        `${file} holds ${unused.length} weight${unused.length > 1 ? "s" : ""} that the model built from config.json does not use: ` +
          `${unused.slice(0, 6).join(", ")}${unused.length > 6 ? ", …" : ""}. config.json does not match the weights (check num_hidden_layers / n_layer and the sizes), ` +
          "or pass { strict: false } to load and ignore them.",
      );
    }
  }
  return model;
}

/**
 * Whether an unused checkpoint tensor is one the model should have used: part of the body
 * (embeddings, layers, final norm) or of the head being loaded, and not one of HF's buffers.
 */
function isBodyWeight(name: string, prefix: string, headModules: readonly string[]): boolean {
  if (headModules.some((m) => name === m || name.startsWith(`${m}.`))) return true;
  const bare = name.startsWith(`${prefix}.`) ? name.slice(prefix.length + 1) : name;
  if (/(^|\.)(position_ids|token_type_ids)$|\.attn\.(masked_)?bias$|(^|\.)pooler\./.test(bare)) return false;
  return /^(embeddings|encoder|wte|wpe|h|ln_f|embed_tokens|layers|norm)\./.test(bare);
}
