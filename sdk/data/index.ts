/**
 * Data: tasks and their readers (GLUE, CoNLL/IOB, E2E, WebNLG, generic CSV/TSV, offline tasks from
 * npm data packages), deterministic splits and batching.
 * @module
 */
export type { Example, Batch, Task, TaskHead, TaskSplits } from "./types.js";
export { task, taskNames, registerTask, JNLPBA_TAGS } from "./tasks.js";
export type { TaskOptions } from "./tasks.js";
export { readTextFile, parseDelimited, splitTsv, readTextLabelFile } from "./delimited.js";
export type { TextLabelOptions, TextLabelData } from "./delimited.js";
export { GLUE, readGlueFile } from "./glue.js";
export type { GlueSpec, GlueTaskName } from "./glue.js";
export { parseConll, readConllFile } from "./conll.js";
export type { TaggedSentence } from "./conll.js";
export { readE2EFile, parseWebNLG, readWebNLG, linearizeTriples, unescapeXml } from "./generation.js";
export type { WebNLGEntry } from "./generation.js";
export {
  spamSplits,
  sotuSplits,
  cmudictSplits,
  mobySentimentSplits,
  emailBody,
  passages,
  splitSentences,
  wordTokens,
  tagSentiment,
  afinnLexicon,
  packageDataDir,
  SENTIMENT_TAGS,
  SOTU_ERAS,
} from "./offline.js";
export type { OfflineOptions, OfflineSplits, SpamOptions, SotuOptions } from "./offline.js";
export { split, splitFractions, trainValSplit, concat, expandReferences } from "./splits.js";
export type { TrainValOptions } from "./splits.js";
export { makeBatches, lmText, inferHead, LM_SEPARATOR } from "./batching.js";
export type { TokenizerLike, BatchOptions, EncodeOptions } from "./batching.js";
