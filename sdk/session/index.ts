/**
 * The AutoLoRA session: stepwise bilevel rank search, thresholds, retraining, checkpoints.
 * @module
 */
export { evaluateExamples, resolveSessionConfig, Session, type SplitCursor } from "./session.js";
export * from "./types.js";
