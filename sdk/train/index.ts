/**
 * Training: {@link AdamW} / {@link Adam} (PyTorch semantics), learning-rate schedules, the plain
 * training loop {@link trainModel}, the evaluation loop {@link evaluateModel} and
 * {@link evaluateExamples} (examples → loss and metrics).
 * @module
 */
export { Adam, AdamW, type AdamWOptions, type AdamWParamState, type AdamWState, type NamedParams } from "./adamw.js";
export { evaluateExamples, evaluateGeneration, type GenerationEval, type GenerationEvalOptions, type TextTokenizer } from "./evaluate.js";
export {
  type BatchTensors,
  batchToTensors,
  type EvalResult,
  evaluateModel,
  isRegression,
  type MetricFn,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
  trainModel,
} from "./loop.js";
export { makeSchedule, type Schedule, type ScheduleKind, type ScheduleOptions, warmupStepsOf } from "./schedule.js";
