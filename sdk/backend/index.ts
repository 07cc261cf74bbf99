/**
 * Backends: {@link useBackend} picks and prepares one; {@link registerWasmKernels} adds the
 * kernels the wasm backend lacks.
 * @module
 */
export { useBackend, type BackendName, type BackendInfo } from "./use-backend.js";
export { registerWasmKernels, wasmKernelNames } from "./wasm-kernels.js";
