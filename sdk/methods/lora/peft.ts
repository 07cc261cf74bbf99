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
import { CheckpointError, ConfigError, ShapeMismatchError } from "../../core/errors.js";
import { writeFileAtomic } from "../../core/fs.js";
import { resolveInside } from "../../models/confine.js";
import type { HeadKind, Model } from "../../models/module.js";
import { readSafetensors, type StoredTensor, writeSafetensors } from "../../models/safetensors.js";
import { patternValue, selectTargets } from "../targets.js";
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
  await writeSafetensors(join(dir, "adapter_model.safetensors"), tensors);
  await writeFileAtomic(join(dir, "adapter_config.json"), `${JSON.stringify(json, null, 2)}\n`);
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
export async function loadPeftAdapter(model: Model, dir: string, opts: { seed?: number } = {}): Promise<LoraHandle> {
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
  let json: PeftLoraConfigJson;
  try {
    json = JSON.parse(await readFile(realCfg, "utf8"));
  } catch (e) {
    throw new CheckpointError(`${cfgPath} is not valid JSON (${(e as Error).message}).`, { cause: e });
  }
  if (json.peft_type !== "LORA") throw new CheckpointError(`${cfgPath} describes a ${json.peft_type} adapter; only LORA adapters load here.`);
  if ((json as { use_dora?: boolean }).use_dora) throw new CheckpointError(`${cfgPath} is a DoRA adapter (use_dora: true), which autolora does not implement.`);
  const config: LoraConfig = {
    targetModules: json.target_modules,
    r: json.r,
    alpha: json.lora_alpha,
    dropout: json.lora_dropout ?? 0,
    rankPattern: json.rank_pattern ?? {},
    alphaPattern: json.alpha_pattern ?? {},
    useRslora: json.use_rslora ?? false,
    modulesToSave: [...new Set([...(json.modules_to_save ?? []).filter((m) => model.headModules.includes(m))])],
    seed: opts.seed ?? 0,
  };
  const file = await readSafetensors(realW);
  // Check every key and shape before touching the model.
  const expected = new Map<string, number[]>();
  for (const l of selectTargets(model, config.targetModules!, model.headModules)) {
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
      throw new ShapeMismatchError(`${key}: the adapter has shape [${t.shape}], this model needs [${shape}]. Was the adapter trained on another base model?`);
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
