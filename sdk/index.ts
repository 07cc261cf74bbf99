/**
 * autolora — a TypeScript lab for AutoLoRA (meta-learned per-layer LoRA ranks), with LoRA,
 * DyLoRA and AdaLoRA baselines, a Jupyter kernel and a CLI.
 *
 * @example
 * ```ts
 * import { useBackend, loadPretrained, loadTokenizer, task, Session } from "autolora";
 * await useBackend("auto");
 * const t = task("spam");
 * const model = await loadPretrained("datasets/models/roberta-tiny", { head: t.head, numLabels: t.numLabels });
 * const tokenizer = await loadTokenizer("datasets/models/roberta-tiny");
 * const session = await Session.create({ model, tokenizer, data: { train: t.splits.train, dev: t.splits.dev } });
 * await session.innerStep();
 * await session.outerStep();
 * console.log(session.alphas(), session.ranks());
 * ```
 * @module
 */

export * from "./backend/index.js";
export * from "./compare/index.js";
export { resolveInside, saveFailure } from "./core/confine.js";
export * from "./core/errors.js";
export { writeFileAtomic } from "./core/fs.js";
export { beginTask, interruptAll, type Task, type TaskRegister, taskRegister } from "./core/interrupt.js";
export { Rng } from "./core/rng.js";
export * from "./data/index.js";
export type { DecodeOptions, EncodeBatchOptions, Encoded, EncodedBatch, LoadedTokenizer } from "./data/tokenizer.js";
export { loadTokenizer } from "./data/tokenizer.js";
export * from "./meta/index.js";
export * from "./methods/adalora/index.js";
export * from "./methods/adapter/index.js";
export * from "./methods/autolora/index.js";
export * from "./methods/dylora/index.js";
export * from "./methods/full/index.js";
export * from "./methods/lora/index.js";
export * from "./methods/patterns.js";
export * from "./methods/targets.js";
export * from "./metrics/index.js";
export * from "./models/index.js";
export * as ops from "./ops/index.js";
export * from "./pretrain/index.js";
export * from "./session/index.js";
export type { RetrainResult } from "./session/retrain.js";
export * from "./train/index.js";
export * from "./viz/index.js";
