/**
 * The AutoLoRA session: stepwise bilevel rank search, thresholds, retraining, checkpoints.
 * @module
 */
export { DEFAULT_MAX_LENGTH, evaluateExamples, modelRoom, type RunResult, resolveSessionConfig, Session, type SplitCursor } from "./session.js";
export * from "./types.js";
