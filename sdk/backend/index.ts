/**
 * Backends: {@link useBackend} picks and prepares one; {@link registerWasmKernels} adds the
 * kernels the wasm backend lacks; {@link registerWebgpuFixes} fixes what webgpu gets wrong.
 * @module
 */
export { type BackendInfo, type BackendName, useBackend } from "./use-backend.js";
export { registerWasmKernels, wasmKernelNames } from "./wasm-kernels.js";
export { registerWebgpuFixes, useDeviceReductionGradients } from "./webgpu-fixes.js";
