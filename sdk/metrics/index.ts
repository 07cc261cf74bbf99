/**
 * Evaluation metrics: classification (accuracy, F1, MCC), regression (Pearson, Spearman),
 * token labelling (seqeval entity F1) and generation (BLEU, TER, NIST, METEOR, ROUGE-L, CIDEr).
 * @module
 */

export type { BleuOptions, BleuResult } from "./bleu.js";
export { corpusBleu, sentenceBleu } from "./bleu.js";
export type { ClassLabel, F1Average, F1Options } from "./classification.js";
export { accuracy, f1Score, matthewsCorrcoef } from "./classification.js";
export { pearson, rankAverage, spearman } from "./correlation.js";
export type { GenOptions, MeteorOptions } from "./generation.js";
export { cider, exactMatch, lcsLength, meteor, nist, rougeL, singleMeteor, wordErrorRate } from "./generation.js";
export type { MetricInput, MetricName } from "./registry.js";
export { computeMetric, METRIC_NAMES } from "./registry.js";
export type { SeqevalOptions, SeqevalResult, TagScheme } from "./seqeval.js";
export { entityF1, getEntities, seqevalScores, strictEntities } from "./seqeval.js";
export type { TerOptions, TerResult } from "./ter.js";
export { corpusTer, translationEditRate } from "./ter.js";
export type { Tokenize } from "./text.js";
export { ngramCounts, tokenize13a, tokenizeTer, tokenizeWords } from "./text.js";
