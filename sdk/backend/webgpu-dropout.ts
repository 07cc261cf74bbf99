/**
 * Dropout masks drawn on the GPU (webgpu only).
 *
 * Why: `tf.dropout` draws its mask with `tf.randomUniform`, which tfjs-core computes in
 * JavaScript on the host; on webgpu every mask is then uploaded through a staging buffer (a LoRA
 * step on a RoBERTa-base-shaped encoder with dropout 0.1 uploaded 294 MiB of masks per step and
 * took 3.3 s instead of 1.1 s without dropout, test/bench/NOTES.md). This kernel makes the mask
 * on the device from a 32-bit seed and the element index with a PCG hash, in one dispatch and
 * with no upload.
 *
 * `AUTOLORA_DEVICE_DROPOUT=0` turns it off (see {@link hasDeviceDropout}).
 *
 * The mask is `1 / (1 − rate)` where kept and `0` where dropped, like `tf.dropout`'s, so
 * `x · mask` is inverted dropout; the gradient of that product is `dy · mask` (the mask is a
 * constant). The random stream differs from tfjs' host generator, so webgpu runs with dropout
 * are reproducible for a seed but do not draw the same masks as cpu/wasm.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { deviceDropoutEnabled } from "../core/settings.js";
import { backendOf, type KernelArgs, type Program } from "./webgpu-program.js";

/** The kernel's name in tfjs' registry. */
export const DROPOUT_MASK = "AutoloraDropoutMask";

interface DropoutMaskAttrs {
  shape: number[];
  rate: number;
  seed: number;
}

/** A tfjs-webgpu program (the backend's `WebGPUProgram` shape): one flat output, no inputs. */
class DropoutMaskProgram implements Program {
  readonly variableNames: string[] = [];
  readonly outputShape: number[];
  readonly uniforms = "seed : u32, rate : f32, scale : f32,";
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly shaderKey = "autolora_dropout_mask";
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];

  constructor(shape: number[]) {
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    const n = tf.util.sizeFromShape(shape);
    // At most 65535 workgroups per dimension: spread big masks over y as tfjs' computeDispatch does.
    const groups = Math.ceil(n / this.workgroupSize[0]);
    const x = Math.min(groups, 65535);
    this.dispatch = [x, Math.ceil(groups / x), 1];
  }

  getUserCode(): string {
    // tfjs-webgpu wraps \`main\` in its own entry point, which computes the flat output index.
    // PCG-RXS-M-XS 32 (O'Neill 2014) as a hash; the index is mixed with the hashed seed so that
    // neighbouring elements and neighbouring seeds give unrelated values. The top 24 bits make
    // a uniform float in [0, 1); an element is kept when u ≥ rate (probability 1 − rate).
    return `
      fn pcgHash(v : u32) -> u32 {
        let state = v * 747796405u + 2891336453u;
        let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
        return (word >> 22u) ^ word;
      }
      fn main(index : i32) {
        if (index < uniforms.size) {
          let h = pcgHash(u32(index) ^ pcgHash(uniforms.seed));
          let u = f32(h >> 8u) / 16777216.0;
          setOutputAtIndex(index, select(0.0, uniforms.scale, u >= uniforms.rate));
        }
      }
    `;
  }
}

function dropoutMaskKernel(args: KernelArgs): tf.TensorInfo {
  const { shape, rate, seed } = args.attrs as unknown as DropoutMaskAttrs;
  const program = new DropoutMaskProgram(shape);
  return backendOf(args).runWebGPUProgram(program, [], "float32", [
    { type: "uint32", data: [seed >>> 0] },
    { type: "float32", data: [rate] },
    { type: "float32", data: [1 / (1 - rate)] },
  ]);
}

let registered = false;

/**
 * Register the device dropout-mask kernel for the webgpu backend (idempotent).
 * `registerWebgpuFixes` calls it; afterwards {@link deviceDropoutMask} works.
 * @returns whether this call registered it (false when it already was).
 *
 * @example
 * ```ts
 * registerDeviceDropout(); // true the first time
 * ```
 */
export function registerDeviceDropout(): boolean {
  if (registered) return false;
  tf.registerKernel({ kernelName: DROPOUT_MASK, backendName: "webgpu", kernelFunc: dropoutMaskKernel as unknown as tf.KernelFunc });
  registered = true;
  return true;
}

/**
 * Whether dropout should use {@link deviceDropoutMask} now: webgpu active, the kernel registered,
 * and `AUTOLORA_DEVICE_DROPOUT` not "0". Set `AUTOLORA_DEVICE_DROPOUT=0` to draw the masks with
 * tfjs' host generator instead (slow on webgpu, but the same masks as cpu/wasm for a seed: the
 * GPU run's webgpu-vs-cpu training checks use it).
 *
 * @example
 * ```ts
 * const x = tf.ones([2, 8]);
 * const seed = new Rng(0).tfSeed();
 * const y = hasDeviceDropout() ? tf.mul(x, deviceDropoutMask(x.shape, 0.1, seed)) : tf.dropout(x, 0.1, undefined, seed);
 * ```
 */
export function hasDeviceDropout(): boolean {
  return registered && deviceDropoutEnabled() && tf.getBackend() === "webgpu";
}

/**
 * An inverted-dropout mask of `shape` made on the GPU: `1 / (1 − rate)` with probability
 * `1 − rate`, else 0; the same `seed` gives the same mask.
 *
 * @example
 * ```ts
 * const x = tf.ones([2, 8]);
 * if (hasDeviceDropout()) {
 *   const y = tf.mul(x, deviceDropoutMask(x.shape, 0.1, new Rng(0).tfSeed())); // 0 or 1/0.9
 * }
 * ```
 */
export function deviceDropoutMask(shape: readonly number[], rate: number, seed: number): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${rate}`);
  return tf.engine().runKernel(DROPOUT_MASK, {}, { shape: [...shape], rate, seed } as unknown as tf.NamedAttrMap) as tf.Tensor;
}
