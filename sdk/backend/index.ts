/**
 * Backends: {@link useBackend} picks and prepares one; {@link registerWasmKernels} adds the
 * kernels the wasm backend lacks; {@link registerWebgpuFixes} fixes what webgpu gets wrong;
 * {@link registerWebgpuFused} adds fused LayerNorm / GELU / attention-softmax kernels on webgpu;
 * {@link registerWebgpuOptim} fused Adam / finiteness-check / DARTS kernels on webgpu.
 * @module
 */
export { type BackendInfo, type BackendName, useBackend } from "./use-backend.js";
export { registerWasmKernels, wasmKernelNames } from "./wasm-kernels.js";
export { deviceDropoutMask, hasDeviceDropout, registerDeviceDropout } from "./webgpu-dropout.js";
export { registerWebgpuFixes, useDeviceReductionGradients } from "./webgpu-fixes.js";
export {
  FusedKernel,
  fusedGelu,
  fusedLayerNorm,
  fusedMaskedSoftmax,
  type GeluApproximation,
  maskedSoftmaxShapesOk,
  registerWebgpuFused,
  webgpuFusedRegistered,
} from "./webgpu-fused.js";
export {
  type AdamStepScalars,
  fusedAdamStep,
  fusedAxpy,
  fusedSumSquares,
  nonFiniteFlags,
  OptimKernel,
  registerWebgpuOptim,
  SINGLE_WORKGROUP_MAX,
  webgpuOptimRegistered,
} from "./webgpu-optim.js";
