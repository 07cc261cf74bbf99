/**
 * Training: {@link AdamW} / {@link Adam} (PyTorch semantics), learning-rate schedules, the plain
 * training loop {@link trainModel} and the evaluation loop {@link evaluateModel}.
 * @module
 */
export { AdamW, Adam, type AdamWOptions, type AdamWState, type AdamWParamState, type NamedParams } from "./adamw.js";
export { makeSchedule, warmupStepsOf, type Schedule, type ScheduleKind, type ScheduleOptions } from "./schedule.js";
export {
  trainModel,
  evaluateModel,
  batchToTensors,
  isRegression,
  type BatchTensors,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
  type EvalResult,
  type MetricFn,
} from "./loop.js";
