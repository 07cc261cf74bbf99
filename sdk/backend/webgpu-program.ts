/**
 * What our WGSL kernels (`webgpu-fused.ts`, `webgpu-optim.ts`, `webgpu-dropout.ts`) share: the
 * part of tfjs-webgpu's program interface they fill in, running a kernel by name, the float32
 * check, and registering a set of kernels with their gradients.
 *
 * tfjs-webgpu builds the shader around `getUserCode()`: storage buffers named after
 * `variableNames` (`array<f32>`), `result` for the output, `uniforms.*` for the declared uniforms,
 * and `main(index)` called with the global invocation index.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeMismatchError } from "../core/errors.js";

/** The subset of `WebGPUProgram` (tfjs-backend-webgpu/dist/webgpu_program.d.ts) we fill in. */
export interface Program {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms?: string;
  size?: boolean;
  getUserCode(): string;
}

/** A program-defined uniform value, as tfjs-webgpu's `runWebGPUProgram` takes them. */
export type Uniform = { type: "float32" | "int32" | "uint32"; data: number[] };

/** The webgpu backend, as far as our kernels use it. */
export interface WebgpuBackendLike {
  runWebGPUProgram(program: Program, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: Uniform[]): tf.TensorInfo;
  device?: { limits?: { maxStorageBuffersPerShaderStage?: number } };
}

/** A kernel function's arguments. */
export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** The backend a kernel function runs on. */
export const backendOf = (args: KernelArgs): WebgpuBackendLike => args.backend as WebgpuBackendLike;

/**
 * Run a registered kernel by name through tfjs' engine (so that the gradient tape records it).
 *
 * @example
 * ```ts
 * const y = runKernel("AutoloraGelu", { x }, { approximate: "none" });
 * ```
 */
export function runKernel(name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): tf.Tensor {
  return tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;
}

/**
 * Throw a clear error unless every given tensor is float32 (the kernels compute in float32).
 *
 * @example
 * ```ts
 * checkFloat32("fusedGelu", x);
 * ```
 */
export function checkFloat32(op: string, ...ts: (tf.Tensor | undefined)[]): void {
  const bad = ts.find((t) => t && t.dtype !== "float32");
  if (bad) throw new ShapeMismatchError(`${op}: the fused kernels compute in float32, got a ${bad.dtype} tensor: cast it with tf.cast(t, "float32").`);
}

/**
 * Register kernels for webgpu and gradients that are not registered yet (idempotent).
 *
 * @returns the kernel names this call registered (empty the second time).
 * @example
 * ```ts
 * registerKernels(kernels, gradients); // ["AutoloraLayerNorm", ...]
 * ```
 */
export function registerKernels(kernels: readonly tf.KernelConfig[], gradients: readonly tf.GradConfig[]): string[] {
  const done: string[] = [];
  for (const k of kernels) {
    if (tf.getKernel(k.kernelName, k.backendName)) continue;
    tf.registerKernel(k);
    done.push(k.kernelName);
  }
  for (const g of gradients) if (!tf.getGradient(g.kernelName)) tf.registerGradient(g);
  return done;
}
