/**
 * Models: the contracts ({@link ParamStore}, {@link Linear}, {@link Model}), BERT/RoBERTa
 * encoders, DeBERTa-v2/v3, GPT-2, task heads and losses, Hugging Face checkpoint I/O and safetensors.
 *
 * @example
 * ```ts
 * import { loadPretrained } from "./models/index.js";
 * const model = await loadPretrained("datasets/fixtures/hf/tiny-roberta-regression");
 * ```
 * @module
 */

/** Twice-differentiable softmax/logSoftmax/sigmoid/tanh/exp (namespaced: their names are generic). */
export * as ops from "../ops/index.js";
export * from "./deberta.js";
export * from "./decoder.js";
export * from "./encoder.js";
export * from "./generate.js";
export * from "./heads.js";
export * from "./io.js";
export * from "./llama.js";
export * from "./module.js";
export * from "./pretrained.js";
export * from "./safetensors.js";
