/**
 * Evaluation metrics: classification (accuracy, F1, MCC), regression (Pearson, Spearman),
 * token labelling (seqeval entity F1) and generation (BLEU, TER, NIST, METEOR, ROUGE-L, CIDEr).
 * @module
 */
export { accuracy, f1Score, matthewsCorrcoef } from "./classification.js";
export type { ClassLabel, F1Average, F1Options } from "./classification.js";
export { pearson, spearman, rankAverage } from "./correlation.js";
export { getEntities, strictEntities, seqevalScores, entityF1 } from "./seqeval.js";
export type { TagScheme, SeqevalOptions, SeqevalResult } from "./seqeval.js";
export { tokenize13a, tokenizeTer, tokenizeWords, ngramCounts } from "./text.js";
export type { Tokenize } from "./text.js";
export { corpusBleu, sentenceBleu } from "./bleu.js";
export type { BleuOptions, BleuResult } from "./bleu.js";
export { corpusTer, translationEditRate } from "./ter.js";
export type { TerOptions, TerResult } from "./ter.js";
export { nist, meteor, singleMeteor, rougeL, lcsLength, cider, exactMatch, wordErrorRate } from "./generation.js";
export type { GenOptions, MeteorOptions } from "./generation.js";
export { computeMetric, METRIC_NAMES } from "./registry.js";
export type { MetricName, MetricInput } from "./registry.js";
