/**
 * Data: tasks and their readers (GLUE, CoNLL/IOB, E2E, WebNLG, CSV/TSV/JSONL/parquet and Hub folders, offline tasks from
 * npm data packages), deterministic splits and batching.
 * @module
 */

export type { BatchOptions, EncodeOptions, TokenizerLike } from "./batching.js";
export { inferHead, LM_SEPARATOR, lmText, makeBatches } from "./batching.js";
export type { TaggedSentence } from "./conll.js";
export { parseConll, readConllFile } from "./conll.js";
export { parseDelimited, readTextFile, splitTsv } from "./delimited.js";
export type { ExampleData, ReadExamplesOptions, TaskType, TextLabelData, TextLabelOptions } from "./examples.js";
export { examplesFromFiles, examplesFromTable, MAX_AUTO_CLASSES, readExamples, readExamplesSync, readTextLabelFile, splitFiles } from "./examples.js";
export type { WebNLGEntry } from "./generation.js";
export { linearizeTriples, parseWebNLG, readE2EFile, readWebNLG, unescapeXml } from "./generation.js";
export type { GlueSpec, GlueTaskName } from "./glue.js";
export { GLUE, readGlueFile } from "./glue.js";
export type { OfflineOptions, OfflineSplits, SotuOptions, SpamOptions } from "./offline.js";
export {
  afinnLexicon,
  cmudictSplits,
  emailBody,
  mobySentimentSplits,
  packageDataDir,
  passages,
  SENTIMENT_TAGS,
  SOTU_ERAS,
  sotuSplits,
  spamSplits,
  splitSentences,
  tagSentiment,
  wordTokens,
} from "./offline.js";
export type { TrainValOptions } from "./splits.js";
export { concat, expandReferences, split, splitFractions, trainValSplit } from "./splits.js";
export type { DelimitedTableOptions, Table } from "./tables.js";
export {
  concatTables,
  delimitedTable,
  formatOf,
  HEADER_NAMES,
  jsonlTable,
  LABEL_COLUMNS,
  looksLikeHeader,
  PAIR_COLUMNS,
  parquetTable,
  parquetTablesSync,
  readTable,
  readTablesSync,
  TABLE_EXTENSIONS,
  TEXT_COLUMNS,
} from "./tables.js";
export type { TaskOptions } from "./tasks.js";
export { JNLPBA_TAGS, registerTask, task, taskNames } from "./tasks.js";
export type { DecodeOptions, EncodeBatchOptions, Encoded, EncodedBatch, LoadedTokenizer } from "./tokenizer.js";
export { loadTokenizer } from "./tokenizer.js";
export type { Batch, Example, Task, TaskHead, TaskSplits, TextTokenizer } from "./types.js";
