/**
 * The AutoLoRA session: stepwise bilevel rank search, thresholds, retraining, checkpoints.
 * @module
 */

export { DEFAULT_MAX_LENGTH, modelRoom, resolveSessionConfig } from "./config.js";
export type { RetrainResult } from "./retrain.js";
export { type RunResult, Session } from "./session.js";
export * from "./types.js";
