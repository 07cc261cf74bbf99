/**
 * The AutoLoRA session: stepwise bilevel rank search, thresholds, retraining, checkpoints.
 * @module
 */

export type { RetrainResult } from "./retrain.js";
export { DEFAULT_MAX_LENGTH, evaluateExamples, modelRoom, type RunResult, resolveSessionConfig, Session, type SplitCursor } from "./session.js";
export * from "./types.js";
