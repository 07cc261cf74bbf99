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

/**
 * A tokenized, padded batch, plain arrays (`[batch][length]`). `labels`: `[batch]` class ids or
 * floats; `[batch][length]` with −100 at ignored positions for token labelling / causal LM.
 */
export interface Batch {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds?: number[][];
  labels: number[] | number[][];
}
