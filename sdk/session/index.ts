/**
 * The AutoLoRA session: stepwise bilevel rank search, thresholds, retraining, checkpoints.
 * @module
 */
export { Session, resolveSessionConfig, evaluateExamples, type SplitCursor } from "./session.js";
export * from "./types.js";
