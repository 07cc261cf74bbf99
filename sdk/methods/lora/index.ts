/**
 * LoRA (Hu et al., 2021) with PEFT's conventions: config, layer, attach/merge, PEFT adapter I/O.
 * @module
 */
export * from "./config.js";
export * from "./layer.js";
export * from "./model.js";
export * from "./peft.js";
export * from "./runner.js";
