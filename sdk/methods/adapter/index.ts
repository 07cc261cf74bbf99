/**
 * The Houlsby adapter baseline: config, layer, attach.
 * @module
 */
export * from "./config.js";
export * from "./layer.js";
export * from "./model.js";
export * from "./runner.js";
