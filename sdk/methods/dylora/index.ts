/**
 * DyLoRA (Valipour et al., 2023): one LoRA of rank `rMax` trained at a rank sampled every step,
 * so that any rank `≤ rMax` can be evaluated afterwards without retraining.
 * @module
 */
export * from "./config.js";
export * from "./layer.js";
export * from "./model.js";
export * from "./runner.js";
