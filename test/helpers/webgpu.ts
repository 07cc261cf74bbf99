/**
 * Shared set-up of the webgpu tests: select the `webgpu` backend (Mesa's lavapipe provides an
 * adapter on machines without a GPU, see .ci/run) or say why the tests skip, and count GPU
 * dispatches by program.
 */
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../sdk/backend/index.js";
import { BackendError } from "../../sdk/core/errors.js";

/**
 * Switch to webgpu. Resolves to undefined when it is active, else to the reason it is not (and
 * warns that the tests of `suite` skip); other errors propagate.
 */
export async function useWebgpuOrSkip(suite: string): Promise<string | undefined> {
  process.env.XDG_RUNTIME_DIR ??= "/tmp"; // Dawn's Vulkan loader wants a runtime dir
  const error = await useBackend("webgpu").then(
    () => undefined,
    (e: unknown) => {
      if (e instanceof BackendError) return e.message;
      throw e;
    },
  );
  if (error) console.warn(`${suite} tests skipped: no webgpu adapter (${error})`);
  return error;
}

const counts = new Map<string, number>();
let installed: object | undefined;

/** Count dispatches by program (our kernels by shader key, tfjs' by class) on the active webgpu backend. */
function install(): void {
  const b = tf.backend() as unknown as { runWebGPUProgram: (p: { shaderKey: string }, ...rest: unknown[]) => unknown };
  if (installed === b) return;
  installed = b;
  const original = b.runWebGPUProgram.bind(b);
  b.runWebGPUProgram = (p, ...rest) => {
    const key = p.shaderKey.startsWith("autolora") ? p.shaderKey : p.constructor.name;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return original(p, ...rest);
  };
}

/** Dispatches made while `fn` ran: all of them, and those whose program key `ours` accepts. */
export interface DispatchCount<T> {
  out: T;
  total: number;
  ours: number;
  byProgram: Map<string, number>;
}

function tally<T>(out: T, ours: (key: string) => boolean): DispatchCount<T> {
  let total = 0;
  let mine = 0;
  for (const [k, n] of counts) {
    total += n;
    if (ours(k)) mine += n;
  }
  return { out, total, ours: mine, byProgram: new Map(counts) };
}

const isOurs = (k: string) => k.startsWith("autolora");

/** Run `fn` and count the dispatches it made (synchronous work). */
export function countDispatches<T>(fn: () => T, ours: (key: string) => boolean = isOurs): DispatchCount<T> {
  install();
  counts.clear();
  const out = fn();
  return tally(out, ours);
}

/** {@link countDispatches} for async work. */
export async function countDispatchesAsync<T>(fn: () => Promise<T>, ours: (key: string) => boolean = isOurs): Promise<DispatchCount<T>> {
  install();
  counts.clear();
  const out = await fn();
  return tally(out, ours);
}

/** Run `fn` on the cpu backend (build its tensors from host arrays inside), then return to webgpu. */
export async function onCpu<T>(fn: () => Promise<T>): Promise<T> {
  await tf.setBackend("cpu");
  try {
    return await fn();
  } finally {
    await tf.setBackend("webgpu");
  }
}
