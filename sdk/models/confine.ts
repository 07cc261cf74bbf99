/**
 * Re-export of {@link resolveInside} (it lives in sdk/core/confine.ts so that sdk/data, a lower
 * layer, can use it too).
 * @module
 */
export { resolveInside } from "../core/confine.js";
