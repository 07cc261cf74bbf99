/**
 * Bilevel optimisation: hypergradient estimators for AutoLoRA's selection variables.
 * @module
 */
export * from "./hypergradient.js";
