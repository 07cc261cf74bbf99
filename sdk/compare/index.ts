/**
 * Methods side by side (LoRA, LoRA grid search, DyLoRA, AdaLoRA, Houlsby adapters, full
 * fine-tuning, AutoLoRA and its ablations) on one task with the same budget and seeds.
 * @module
 */
export * from "./compare.js";
export * from "./stats.js";
