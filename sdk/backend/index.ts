/**
 * Backends: {@link useBackend} picks and prepares one; {@link registerWasmKernels} adds the
 * kernels the wasm backend lacks; {@link registerWebgpuFixes} fixes what webgpu gets wrong.
 * @module
 */
export { useBackend, type BackendName, type BackendInfo } from "./use-backend.js";
export { registerWasmKernels, wasmKernelNames } from "./wasm-kernels.js";
export { registerWebgpuFixes, useDeviceReductionGradients } from "./webgpu-fixes.js";
