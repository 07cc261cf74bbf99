/**
 * The shapes that flow from data readers to training: examples, tokenized batches, task specs.
 * @module
 */

/** One labelled example as read from a file. `label` is a class index, a float (regression),
 * per-token class indices (token labelling), or a target text (generation). */
export interface Example {
  text: string;
  /** Second sentence of a pair task (MRPC, RTE, ...). */
  textPair?: string;
  label: number | number[] | string;
  /** Pre-split words, for token labelling. */
  words?: string[];
  /** Several reference texts (E2E, WebNLG). */
  references?: string[];
}

/** Options of a tokenizer's `encodeBatch`. */
export interface EncodeOptions {
  maxLength?: number;
  padding?: "longest" | "max_length" | false;
  truncation?: boolean;
}

/**
 * The one tokenizer interface: what batching, training, evaluation and the session need.
 * `loadTokenizer(dir)` (sdk/data/tokenizer.ts) returns a `LoadedTokenizer`, which has it and more.
 * `encodeBatch` adds the model's special tokens (`[CLS] … [SEP]`, `<s> … </s>`, none for GPT-2).
 */
export interface TextTokenizer {
  encodeBatch(texts: string[] | [string, string][], options?: EncodeOptions): { inputIds: number[][]; attentionMask: number[][]; tokenTypeIds?: number[][] };
  readonly padTokenId: number;
  /**
   * The end-of-text token (`eos_token` of tokenizer_config.json), if the tokenizer has one:
   * appended to causal-LM targets when batching, and where generation stops.
   */
  readonly eosTokenId?: number;
}

/**
 * A tokenized, padded batch, plain arrays (`[batch][length]`). `labels`: `[batch]` class ids or
 * floats; `[batch][length]` with −100 at ignored positions for token labelling / causal LM.
 */
export interface Batch {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds?: number[][];
  labels: number[] | number[][];
  /** Position of each row's example in the array given to `makeBatches` (to find references, words, …). */
  indices?: number[];
}

/** What a task's model predicts, i.e. which head it needs. */
export type TaskHead = "sequence-classification" | "token-classification" | "causal-lm";

/** The splits of a task. GLUE's `test` files have no labels, so GLUE tasks have no `test`. */
export interface TaskSplits {
  train: Example[];
  dev: Example[];
  test?: Example[];
}

/**
 * A task: its splits (read on first access), label names, the metrics it reports and the head it
 * needs. `numLabels` is 1 for regression (STS-B) and 0 for causal-LM tasks (the vocabulary decides).
 */
export interface Task {
  name: string;
  splits: TaskSplits;
  /** Class names by id (classification, token labelling); `null` for regression and generation. */
  labels: string[] | null;
  /** Names understood by `computeMetric` (sdk/metrics), the first one is the task's main metric. */
  metrics: string[];
  head: TaskHead;
  numLabels: number;
  /** One line on where the data comes from. */
  description: string;
}
