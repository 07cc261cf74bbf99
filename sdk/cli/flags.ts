/**
 * The parsed flags of the subcommands, as types only: shared by each command's definition
 * (`compare.ts`, …) and its work (`compare-run.ts`, …) without either importing the other.
 * @module
 */
import type { BackendName } from "../backend/use-backend.js";
import type { SessionOptions } from "../session/types.js";
import type { DataFlags } from "./data.js";

/** The parsed flags of `compare`. */
export interface CompareFlags extends DataFlags {
  methods: string[];
  seeds: number;
  baseline?: string;
  firstSeed: number;
  merge?: string[];
  epochs: number;
  batchSize: number;
  maxLength?: number;
  lr: number;
  rank: number;
  curve?: boolean;
  decode?: number;
  targetModules?: string[];
  out: string;
  backend?: BackendName;
}

/** The parsed flags of `search`. */
export interface SearchFlags extends DataFlags {
  out: string;
  steps?: number;
  maxRank?: number;
  selection?: SessionOptions["selection"];
  hypergradient?: SessionOptions["hypergradient"];
  preset?: SessionOptions["preset"];
  innerLr?: number;
  outerLr?: number;
  batchSize?: number;
  maxLength?: number;
  seed: number;
  targetModules?: string[];
  threshold?: number | "mean";
  retrainEpochs: number;
  warmStart: boolean;
  backend?: BackendName;
}

/** The parsed flags of `pretrain`. */
export interface PretrainFlags {
  out?: string;
  arch?: "gpt2" | "llama";
  hidden?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  intermediate?: number;
  vocabSize?: number;
  blockSize?: number;
  steps?: number;
  batchSize?: number;
  lr?: number;
  warmupRatio?: number;
  weightDecay?: number;
  dropout?: number;
  evalBlocks?: number;
  sources?: string[];
  corpus?: string;
  seed?: number;
  logEvery?: number;
  backend: BackendName;
}
