/**
 * The fine-tuning methods, each a config, a `LinearAdapter` and an `attach…` function: LoRA (and
 * PEFT adapter files), AutoLoRA, DyLoRA, AdaLoRA, Houlsby adapters and full fine-tuning; plus
 * PEFT's target-module matching and its `rank_pattern` / `alpha_pattern` regexes.
 * @module
 */
export * from "./adalora/index.js";
export * from "./adapter/index.js";
export * from "./autolora/index.js";
export * from "./dylora/index.js";
export * from "./full/index.js";
export * from "./handle.js";
export * from "./lora/index.js";
export * from "./patterns.js";
export * from "./runner.js";
export * from "./targets.js";
