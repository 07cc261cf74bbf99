/**
 * Pretraining our own small checkpoints: the corpus from the bundled data packages, a byte-level
 * BPE tokenizer trained in TypeScript (written as HF `tokenizer.json`), masked-LM and causal-LM
 * loops, and the recipe behind `autolora pretrain`.
 *
 * @example
 * ```ts
 * import { pretrain } from "./pretrain/index.js";
 * await pretrain({ kind: "clm", out: "runs/gpt2-tiny", steps: 100 });
 * ```
 * @module
 */
export * from "./bpe.js";
export * from "./corpus.js";
export * from "./pipeline.js";
export * from "./train.js";
