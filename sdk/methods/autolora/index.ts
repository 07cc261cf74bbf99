/**
 * AutoLoRA's gated LoRA: selection variables β per layer, α = f(β), ranks from a threshold on α.
 * The bilevel optimisation that tunes β lives in `sdk/meta` and `sdk/session`.
 * @module
 */
export * from "./config.js";
export * from "./layer.js";
export * from "./model.js";
