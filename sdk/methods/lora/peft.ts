/**
 * Reading and writing adapters in PEFT's own format: `adapter_config.json` +
 * `adapter_model.safetensors`, keys `base_model.model.<module>.lora_A.weight` /
 * `.lora_B.weight`, and `base_model.model.<module>.<param>` for `modules_to_save`.
 * An adapter we write loads with `PeftModel.from_pretrained`; one PEFT writes loads here.
 * @module
 */

import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { resolveInside, saveFailure } from "../../core/confine.js";
import { AutoLoraError, CheckpointError, ConfigError, ShapeMismatchError } from "../../core/errors.js";
import { writeFileAtomic } from "../../core/fs.js";
import type { HeadKind, Model } from "../../models/module.js";
import { readSafetensors, type StoredTensor, writeSafetensors } from "../../models/safetensors.js";
import { checkPatternKeys, compilePattern } from "../patterns.js";
import { isAllLinear, patternValue, selectTargets } from "../targets.js";
import type { LoraConfig } from "./config.js";
import { attachLoRA, type LoraHandle, loraOf } from "./model.js";

const PREFIX = "base_model.model.";
const TASK_TYPE: Record<HeadKind, string> = {
  "sequence-classification": "SEQ_CLS",
  "token-classification": "TOKEN_CLS",
  "causal-lm": "CAUSAL_LM",
};

/** The subset of PEFT's `adapter_config.json` we read and write. */
export interface PeftLoraConfigJson {
  peft_type: "LORA";
  r: number;
  lora_alpha: number;
  target_modules: string[] | string;
  lora_dropout: number;
  fan_in_fan_out: boolean;
  bias: "none";
  use_rslora: boolean;
  modules_to_save: string[] | null;
  rank_pattern: Record<string, number>;
  alpha_pattern: Record<string, number>;
  task_type: string | null;
  [key: string]: unknown;
}

/**
 * Write the LoRA attached to `model` as a PEFT adapter folder (both files written atomically).
 *
 * @example
 * ```ts
 * attachLoRA(model, { r: 4 });
 * await savePeftAdapter(model, "out/adapter"); // PeftModel.from_pretrained(base, "out/adapter") loads it
 * ```
 */
export async function savePeftAdapter(model: Model, dir: string, extra: { baseModelNameOrPath?: string } = {}): Promise<void> {
  const lora = loraOf(model);
  if (!lora) throw new ConfigError("this model has no LoRA adapter to save: call attachLoRA(model, ...) first.");
  const c = lora.config;
  const fanInFanOut = [...lora.layers.values()].some((l) => l.linear.fanInFanOut);
  const json: PeftLoraConfigJson = {
    peft_type: "LORA",
    r: c.r,
    lora_alpha: c.alpha,
    target_modules: c.targetModules,
    lora_dropout: c.dropout,
    fan_in_fan_out: fanInFanOut,
    bias: "none",
    use_rslora: c.useRslora,
    modules_to_save: lora.modulesToSave.length ? lora.modulesToSave : null,
    rank_pattern: c.rankPattern,
    alpha_pattern: c.alphaPattern,
    task_type: TASK_TYPE[model.head],
    base_model_name_or_path: extra.baseModelNameOrPath ?? null,
    inference_mode: true,
    init_lora_weights: true,
    layers_to_transform: null,
    layers_pattern: null,
    use_dora: false,
    revision: null,
  };
  const tensors = new Map<string, StoredTensor>();
  // Collected first, read asynchronously after (webgpu in Node has no synchronous read); merging
  // changes only the base weights, never A, B or the saved modules.
  const toRead: [string, tf.Tensor][] = [];
  const put = (key: string, name: string) => {
    toRead.push([key, model.params.get(name)]);
  };
  const wasMerged = lora.merged;
  if (wasMerged) lora.unmerge();
  try {
    for (const layer of lora.layers.values()) {
      put(`${PREFIX}${layer.names.A}`, layer.names.A);
      put(`${PREFIX}${layer.names.B}`, layer.names.B);
    }
  } finally {
    if (wasMerged) lora.merge();
  }
  for (const p of model.params.list((q) => lora.modulesToSave.some((m) => q.name.startsWith(`${m}.`)))) put(`${PREFIX}${p.name}`, p.name);
  for (const [key, v] of toRead) tensors.set(key, { shape: [...v.shape], data: (await v.data()) as Float32Array });
  try {
    await writeSafetensors(join(dir, "adapter_model.safetensors"), tensors);
    await writeFileAtomic(join(dir, "adapter_config.json"), `${JSON.stringify(json, null, 2)}\n`);
  } catch (e) {
    throw saveFailure(e, dir);
  }
}

/** Options of {@link loadPeftAdapter}. */
export interface LoadPeftOptions {
  /** Seed of the (overwritten) initialisation; default 0. */
  seed?: number;
  /** Load weights that are NaN or infinite instead of refusing them (for inspecting a broken adapter). Default false. */
  allowNonFinite?: boolean;
}

/**
 * `adapter_config.json` keys that do not change what the adapter computes once its weights are
 * loaded (bookkeeping, or options PEFT itself only reads at creation time).
 */
const PEFT_INERT_KEYS = new Set([
  "peft_type",
  "r",
  "lora_alpha",
  "lora_dropout",
  "target_modules",
  "rank_pattern",
  "alpha_pattern",
  "use_rslora",
  "modules_to_save",
  "fan_in_fan_out",
  "bias",
  "init_lora_weights",
  "layers_pattern",
  "base_model_name_or_path",
  "revision",
  "task_type",
  "inference_mode",
  "peft_version",
  "auto_mapping",
  "megatron_core",
  "qalora_group_size",
  "ensure_weight_tying",
]);

/** A value that leaves a PEFT option at its default (off). */
const isOff = (v: unknown) =>
  v === null || v === false || v === undefined || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && v !== null && Object.keys(v).length === 0);

/**
 * Check a parsed `adapter_config.json` and turn it into a {@link LoraConfig}. Every field is
 * type-checked ({@link CheckpointError} naming the file and field); PEFT options autolora does not
 * implement (`bias` other than "none", `use_dora`, `layers_to_transform`, `exclude_modules`,
 * `lora_bias`, `layer_replication`, PiSSA/OLoRA/LoftQ/EVA/CorDA initialisations, …, and any
 * unknown option set to something other than its default) are refused rather than ignored.
 *
 * @example
 * ```ts
 * const cfg = peftLoraConfig({ peft_type: "LORA", r: 4, lora_alpha: 8, target_modules: ["query"] }, "adapter_config.json");
 * ```
 */
export function peftLoraConfig(raw: unknown, cfgPath: string): LoraConfig {
  const bad = (field: string, v: unknown, want: string) =>
    new CheckpointError(
      `${cfgPath}: ${field} is ${JSON.stringify(v)}, but it must be ${want}. Fix the file or re-save the adapter with PEFT's save_pretrained.`,
    );
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new CheckpointError(`${cfgPath} is ${JSON.stringify(raw)}, not a JSON object: re-save the adapter with PEFT's save_pretrained.`);
  const j = raw as Record<string, unknown>;
  if (j.peft_type !== "LORA")
    throw new CheckpointError(`${cfgPath} describes a ${JSON.stringify(j.peft_type)} adapter (peft_type); only LORA adapters load here.`);
  const refuse = (field: string, what: string) =>
    new CheckpointError(
      `${cfgPath}: ${field} = ${JSON.stringify(j[field])} (${what}) is not implemented by autolora, and loading the adapter without it would compute something else: refused. Re-train the adapter without it.`,
    );
  if (j.use_dora !== undefined && j.use_dora !== null && j.use_dora !== false) throw refuse("use_dora", "DoRA");
  if (j.bias !== undefined && j.bias !== null && j.bias !== "none") throw refuse("bias", 'trained biases; only "none" is implemented');
  if (!isOff(j.layers_to_transform)) throw refuse("layers_to_transform", "adapting only some layers");
  if (!isOff(j.exclude_modules)) throw refuse("exclude_modules", "excluding modules from target_modules");
  const init = j.init_lora_weights;
  if (!(init === undefined || init === null || init === true || init === false || init === "gaussian" || init === "orthogonal"))
    throw refuse("init_lora_weights", "an initialisation that changes the base weights");
  for (const [k, v] of Object.entries(j)) {
    if (!PEFT_INERT_KEYS.has(k) && !isOff(v) && k !== "use_dora" && k !== "exclude_modules" && k !== "layers_to_transform")
      throw refuse(k, "an option set away from its default");
  }
  const int = (field: string, min: number): number => {
    const v = j[field];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw bad(field, v, `an integer ≥ ${min}`);
    return v;
  };
  const num = (field: string, fallback: number, ok: (x: number) => boolean, want: string): number => {
    const v = j[field] ?? fallback;
    if (typeof v !== "number" || !ok(v)) throw bad(field, v, want);
    return v;
  };
  const bool = (field: string): boolean => {
    const v = j[field] ?? false;
    if (typeof v !== "boolean") throw bad(field, v, "true or false");
    return v;
  };
  const r = int("r", 1);
  const alpha = num("lora_alpha", 8, Number.isFinite, "a finite number");
  const dropout = num("lora_dropout", 0, (x) => x >= 0 && x < 1, "a number in [0, 1)");
  const useRslora = bool("use_rslora");
  bool("fan_in_fan_out");
  const t = j.target_modules;
  if (!(typeof t === "string" || (Array.isArray(t) && t.length > 0 && t.every((x) => typeof x === "string" && x.length > 0))))
    throw bad("target_modules", t, "a non-empty list of module names or a regular expression (string)");
  const pattern = (field: string, ok: (x: number) => boolean, want: string): Record<string, number> => {
    const p = j[field] ?? {};
    if (typeof p !== "object" || p === null || Array.isArray(p)) throw bad(field, p, "an object { moduleKey: number }");
    for (const [k, v] of Object.entries(p)) if (typeof v !== "number" || !ok(v)) throw bad(`${field}[${JSON.stringify(k)}]`, v, want);
    return { ...(p as Record<string, number>) };
  };
  const rankPattern = pattern("rank_pattern", (x) => Number.isInteger(x) && x >= 0, "an integer ≥ 0");
  const alphaPattern = pattern("alpha_pattern", Number.isFinite, "a finite number");
  const m = j.modules_to_save ?? [];
  if (!Array.isArray(m) || !m.every((x) => typeof x === "string")) throw bad("modules_to_save", m, "null or a list of module names");
  return { targetModules: Array.isArray(t) ? [...t] : t, r, alpha, dropout, rankPattern, alphaPattern, useRslora, modulesToSave: m as string[] };
}

/** Refuse integer-typed or (unless allowed) non-finite weights, naming the tensor and file. */
function checkWeights(t: StoredTensor, key: string, file: string, allowNonFinite: boolean): void {
  if (!(t.data instanceof Float32Array))
    throw new CheckpointError(`${file}: ${key} is stored as an integer dtype, but it is a float weight: the file is mislabelled or corrupt; re-save it.`);
  if (allowNonFinite) return;
  const i = t.data.findIndex((x) => !Number.isFinite(x));
  if (i >= 0)
    throw new CheckpointError(
      `${file}: ${key} holds ${t.data[i]} at index ${i}: the weights are not finite (a diverged or corrupt save). Re-save them, or pass { allowNonFinite: true } to load anyway.`,
    );
}

/**
 * Attach a PEFT LoRA adapter from `dir` to `model`: reads the config (r, alpha, target modules,
 * rank/alpha patterns, rsLoRA, modules to save) and the weights. Everything is checked before the
 * model changes: a missing file, a non-LoRA adapter, an unknown target, a missing or extra key, or
 * a wrong shape throws and leaves the model as it was.
 *
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/fixtures/hf/tiny-bert-seqcls");
 * await loadPeftAdapter(model, "datasets/fixtures/hf/peft-bert-seqcls");
 * const logits = await model.predict({ inputIds: [[2, 40, 3]] });
 * ```
 */
export async function loadPeftAdapter(model: Model, dir: string, opts: LoadPeftOptions = {}): Promise<LoraHandle> {
  if (typeof dir !== "string" || dir.length === 0)
    throw new ConfigError(`loadPeftAdapter: dir must be the path of an adapter folder, got ${JSON.stringify(dir)}.`);
  if (opts.seed !== undefined && !(typeof opts.seed === "number" && Number.isFinite(opts.seed)))
    throw new ConfigError(`loadPeftAdapter: seed must be a finite number, got ${JSON.stringify(opts.seed)}.`);
  if (opts.allowNonFinite !== undefined && typeof opts.allowNonFinite !== "boolean")
    throw new ConfigError(`loadPeftAdapter: allowNonFinite must be true or false, got ${JSON.stringify(opts.allowNonFinite)}.`);
  if (loraOf(model)) throw new ConfigError("loadPeftAdapter: this model already has a LoRA adapter: call loraOf(model).detach() first, or load a fresh model.");
  const cfgPath = join(dir, "adapter_config.json");
  const wPath = join(dir, "adapter_model.safetensors");
  for (const p of [cfgPath, wPath]) {
    const ok = await stat(p).then(
      () => true,
      () => false,
    );
    if (!ok) {
      const bin = await stat(join(dir, "adapter_model.bin")).then(
        () => true,
        () => false,
      );
      throw new CheckpointError(
        bin && p === wPath
          ? `${dir} has adapter_model.bin but no adapter_model.safetensors: re-save the adapter with PEFT's save_pretrained(dir, safe_serialization=True).`
          : `missing ${p}: a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors.`,
      );
    }
  }
  // Both files must resolve inside the adapter folder (a symlink elsewhere is refused).
  const realCfg = await resolveInside(dir, "adapter_config.json", dir);
  const realW = await resolveInside(dir, "adapter_model.safetensors", dir);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(realCfg, "utf8"));
  } catch (e) {
    throw new CheckpointError(`${cfgPath} is not valid JSON (${(e as Error).message}): re-save the adapter with PEFT's save_pretrained.`, { cause: e });
  }
  const parsed = peftLoraConfig(raw, cfgPath);
  const config: LoraConfig = {
    ...parsed,
    modulesToSave: [...new Set((parsed.modulesToSave ?? []).filter((m) => model.headModules.includes(m)))],
    seed: opts.seed ?? 0,
  };
  // Patterns are compiled here first so that their errors name the file.
  if (typeof config.targetModules === "string" && !isAllLinear(config.targetModules)) compilePattern(config.targetModules, `${cfgPath}: target_modules`);
  let targets: ReturnType<typeof selectTargets>;
  try {
    targets = selectTargets(model, config.targetModules!, model.headModules);
  } catch (e) {
    // The same error, naming the file its target_modules came from.
    if (e instanceof AutoLoraError) throw new (e.constructor as typeof AutoLoraError)(`${cfgPath}: ${e.message}`, { cause: e });
    throw e;
  }
  checkPatternKeys(
    config.rankPattern,
    targets.map((l) => l.name),
    `${cfgPath}: rank_pattern`,
  );
  checkPatternKeys(
    config.alphaPattern,
    targets.map((l) => l.name),
    `${cfgPath}: alpha_pattern`,
  );
  const file = await readSafetensors(realW);
  // Check every key and shape before touching the model.
  const expected = new Map<string, number[]>();
  for (const l of targets) {
    const r = patternValue(config.rankPattern, l.name, config.r!);
    if (r === 0) continue;
    expected.set(`${PREFIX}${l.name}.lora_A.weight`, [r, l.inFeatures]);
    expected.set(`${PREFIX}${l.name}.lora_B.weight`, [l.outFeatures, r]);
  }
  for (const p of model.params.list((q) => config.modulesToSave!.some((m) => q.name.startsWith(`${m}.`)))) {
    if (file.tensors.has(`${PREFIX}${p.name}`)) expected.set(`${PREFIX}${p.name}`, [...p.variable.shape]);
  }
  for (const [key, shape] of expected) {
    const t = file.tensors.get(key);
    if (!t) throw new CheckpointError(`${wPath} lacks ${key}, which its adapter_config.json implies; the adapter was made for another model or is incomplete.`);
    if (t.shape.join() !== shape.join())
      throw new ShapeMismatchError(`${wPath}: ${key} has shape [${t.shape}], this model needs [${shape}]. Was the adapter trained on another base model?`);
    checkWeights(t, key, wPath, opts.allowNonFinite ?? false);
  }
  const extra = [...file.tensors.keys()].filter((k) => !expected.has(k));
  if (extra.length)
    throw new CheckpointError(`${wPath} holds tensors this model has no place for: ${extra.slice(0, 5).join(", ")}${extra.length > 5 ? ", …" : ""}.`);
  const handle = attachLoRA(model, config);
  tf.tidy(() => {
    for (const [key, shape] of expected) {
      const t = file.tensors.get(key)!;
      model.params.param(key.slice(PREFIX.length))!.variable.assign(tf.tensor(t.data, shape, "float32"));
    }
  });
  return handle;
}
