/**
 * autolora — a TypeScript lab for AutoLoRA (meta-learned per-layer LoRA ranks), with LoRA,
 * DyLoRA and AdaLoRA baselines, a Jupyter kernel and a CLI.
 *
 * @example
 * ```ts
 * import { useBackend, loadPretrained, loadTokenizer, task, Session } from "autolora";
 * await useBackend("auto");
 * const t = task("spam");
 * const model = await loadPretrained("datasets/models/roberta-tiny", { head: t.head, numLabels: t.numLabels });
 * const tokenizer = await loadTokenizer("datasets/models/roberta-tiny");
 * const session = await Session.create({ model, tokenizer, data: { train: t.splits.train, dev: t.splits.dev } });
 * await session.innerStep();
 * await session.outerStep();
 * console.log(session.alphas(), session.ranks());
 * ```
 *
 * The root holds what a notebook needs: backend choice, loading, tasks, `Session`, the methods and
 * PEFT adapter files, `compare`, figures and metrics. Everything else (kernels, ops, readers,
 * training loop, pretraining internals, …) is one subpath per SDK folder, e.g.
 * `import { ops } from "autolora/models"`: see package.json `exports` and docs/ARCHITECTURE.md.
 * @module
 */

// Backend choice.
export { type BackendInfo, type BackendName, useBackend } from "./backend/index.js";
// Sweeps: a grid of CLI runs on a local pool, resumable.
export { type SweepConfig, type SweepResult, sweep } from "./cli/sweep-run.js";
// Methods side by side.
export {
  type CompareOptions,
  type CompareProgress,
  type CompareResult,
  compare,
  comparisonFigure,
  describeDifference,
  type MethodResult,
  type MethodSummary,
  type PairedDifference,
  pairedDifferences,
  RunInterrupted,
  summarize,
  toMarkdown,
} from "./compare/index.js";
// What a user catches, and the register of long operations the kernel pauses.
export {
  AutoLoraError,
  BackendError,
  beginTask,
  CheckpointError,
  ConfigError,
  DataError,
  interruptAll,
  NonFiniteError,
  ShapeMismatchError,
  UnknownNameError,
} from "./core/index.js";
// Loading: checkpoints, tokenizers, tasks and your own data.
export {
  type Example,
  examplesFromTable,
  type LoadedTokenizer,
  loadTokenizer,
  type ReadExamplesOptions,
  readExamples,
  readTable,
  registerTask,
  type Task,
  type TaskHead,
  type TaskOptions,
  type TaskSplits,
  type TaskType,
  task,
  taskNames,
  trainValSplit,
} from "./data/index.js";
// The session: stepwise rank search, thresholds, retraining, checkpoints.
export type { HypergradientKind } from "./meta/index.js";
// Methods and PEFT adapter files.
export {
  type AdaLoraConfig,
  type AdaLoraHandle,
  type AdapterConfig,
  type AdapterHandle,
  type AutoLoraConfig,
  type AutoLoraHandle,
  attachAdaLoRA,
  attachAdapters,
  attachAutoLoRA,
  attachDyLoRA,
  attachLoRA,
  countTrainable,
  type DyLoraConfig,
  type DyLoraHandle,
  defaultThreshold,
  fullFineTune,
  type LayerAlpha,
  type LayerRank,
  type LoadPeftOptions,
  type LoraConfig,
  type LoraHandle,
  loadPeftAdapter,
  ranksFromAlphas,
  type Selection,
  savePeftAdapter,
  type Threshold,
  trainAdaLoRA,
  trainDyLoRA,
} from "./methods/index.js";
// Metrics.
export {
  accuracy,
  computeMetric,
  corpusBleu,
  f1Score,
  METRIC_NAMES,
  type MetricName,
  matthewsCorrcoef,
  pearson,
  seqevalScores,
  spearman,
} from "./metrics/index.js";
export { type GenerateOptions, generate, type LoadOptions, loadPretrained, type Model, type PretrainedModel, saveModel } from "./models/index.js";
export { type PretrainOptions, type PretrainResult, pretrain } from "./pretrain/index.js";
export {
  type HistoryRow,
  type Preset,
  type RanksOptions,
  type RetrainOptions,
  type RetrainResult,
  type RunOptions,
  type RunResult,
  Session,
  type SessionConfig,
  type SessionData,
  type SessionOptions,
  type StepReport,
} from "./session/index.js";
// Causal-LM metrics by decoding (exact match, WER, BLEU, …).
export { evaluateGeneration } from "./train/index.js";
// Figures and display.
export {
  alphaHeatmap,
  alphaTrajectories,
  type Displayable,
  type Figure,
  htmlTable,
  lossCurves,
  MIME_BUNDLE,
  rankGrid,
  type ShowOptions,
  saveHtml,
  show,
  thresholdSweep,
} from "./viz/index.js";
