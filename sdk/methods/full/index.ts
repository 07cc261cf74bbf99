/**
 * Full fine-tuning, the paper's upper-bound row: every parameter trains.
 * @module
 */
export * from "./model.js";
export * from "./runner.js";
