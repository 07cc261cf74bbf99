/**
 * AdaLoRA (Zhang et al., 2023) after PEFT: SVD-form adapters `P Λ Q`, importance-scored singular
 * values masked under a cubic budget schedule, orthogonal regularisation, final rank pattern.
 * @module
 */
export * from "./config.js";
export * from "./layer.js";
export * from "./model.js";
export * from "./runner.js";
