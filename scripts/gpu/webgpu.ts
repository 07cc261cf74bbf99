/**
 * WebGPU in Node for the GPU runs (see /work/shared/GPU.md): Dawn's `webgpu` package (kept
 * external by the bundler and carried next to the bundle), `navigator.gpu`, then tfjs' webgpu
 * backend (bundled, imported only once `navigator.gpu` exists), then `useBackend('webgpu')`
 * (which finds the backend already active). Also a counter of what the webgpu backend does:
 * GPU programs dispatched, queue submits, host reads and the time spent waiting on them.
 *
 * `AUTOLORA_DAWN_OPTIONS` (space separated, as in sdk/backend) goes to Dawn's `create()`:
 * `backend=null` gives a device that computes nothing, to smoke-test the webgpu code path on a
 * machine without a GPU; `enable-dawn-features=skip_validation,disable_robustness` measures what
 * Dawn's validation costs.
 */
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../sdk/backend/index.js";

interface GpuLike {
  requestAdapter(o?: { powerPreference?: string }): Promise<object | null>;
}

export interface WebgpuInfo {
  device: string;
  adapter: Record<string, unknown>;
}

/** Set up Dawn + tfjs-backend-webgpu and make `webgpu` the active backend. */
export async function setupWebgpu(): Promise<WebgpuInfo> {
  // A literal specifier that the bundler leaves external (esbuild --external:webgpu).
  const dawn = (await import("webgpu")) as unknown as { create: (o: string[]) => GpuLike; globals: Record<string, unknown> };
  const flags = (process.env.AUTOLORA_DAWN_OPTIONS ?? "").split(/\s+/).filter(Boolean);
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create(flags);
  Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error("Dawn found no GPU adapter (Vulkan loader/ICD missing? VK_DRIVER_FILES?)");
  const info = (adapter as unknown as { info?: Record<string, unknown> }).info ?? {};
  // Bundled, and evaluated only now that navigator.gpu exists (it registers the backend on load).
  await import("@tensorflow/tfjs-backend-webgpu");
  if (!(await tf.setBackend("webgpu"))) throw new Error("tf.setBackend('webgpu') failed");
  await tf.ready();
  const b = await useBackend("webgpu"); // the SDK's path: finds webgpu active
  const adapterInfo = { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description };
  return { device: `${b.device} ${JSON.stringify(adapterInfo)}`, adapter: adapterInfo };
}

/** Counters of the webgpu backend's work between {@link Counter.reset} and {@link Counter.read}. */
export interface Counts {
  /** GPU programs run (one compute dispatch each). */
  dispatches: number;
  /** Queue submissions. */
  submits: number;
  /** Host reads (`data()`; each drains the queue up to that point). */
  reads: number;
  /** Time spent awaiting host reads, ms (≈ GPU-bound time, the device running ahead of the CPU). */
  readWaitMs: number;
  /** Uploads of CPU-resident tensors (int32 batches, dropout masks, constants). */
  uploads: number;
  /** Bytes uploaded. */
  uploadBytes: number;
  /** Uploads of 1 MiB or more. */
  bigUploads: number;
  /** Dispatches per GPU program class, most frequent first (top 12). */
  byProgram?: Record<string, number>;
}

interface WebgpuBackendLike {
  runWebGPUProgram: (...a: unknown[]) => unknown;
  submitQueue: (...a: unknown[]) => unknown;
  getBufferData: (...a: unknown[]) => Promise<unknown>;
  uploadToGPU: (dataId: object) => void;
  tensorMap: { get(id: object): { resource?: unknown; values?: { byteLength?: number } | null } | undefined };
}

export class Counter {
  private c: Counts = Counter.zero();
  private programs = new Map<string, number>();
  static zero(): Counts {
    return { dispatches: 0, submits: 0, reads: 0, readWaitMs: 0, uploads: 0, uploadBytes: 0, bigUploads: 0 };
  }
  /** Wrap the active webgpu backend's methods (idempotent per backend object). */
  static install(): Counter | undefined {
    if (tf.getBackend() !== "webgpu") return undefined;
    const b = tf.backend() as unknown as WebgpuBackendLike & { __counter?: Counter };
    if (b.__counter) return b.__counter;
    const counter = new Counter();
    const run = b.runWebGPUProgram.bind(b);
    b.runWebGPUProgram = (...a: unknown[]) => {
      counter.c.dispatches++;
      // tfjs' programs are classes; ours (sdk/backend/webgpu-*.ts) are plain objects named by shaderKey.
      const prog = a[0] as { constructor?: { name?: string }; shaderKey?: string };
      const cls = prog?.constructor?.name;
      const name = cls && cls !== "Object" ? cls : (prog?.shaderKey?.split("_").slice(0, 2).join("_") ?? "?");
      counter.programs.set(name, (counter.programs.get(name) ?? 0) + 1);
      return run(...a);
    };
    const submit = b.submitQueue.bind(b);
    b.submitQueue = (...a: unknown[]) => {
      counter.c.submits++;
      return submit(...a);
    };
    const get = b.getBufferData.bind(b);
    b.getBufferData = async (...a: unknown[]) => {
      counter.c.reads++;
      const t0 = performance.now();
      try {
        return await get(...a);
      } finally {
        counter.c.readWaitMs += performance.now() - t0;
      }
    };
    const upload = b.uploadToGPU.bind(b);
    b.uploadToGPU = (dataId: object) => {
      const d = b.tensorMap.get(dataId);
      if (d && d.resource == null && d.values) {
        counter.c.uploads++;
        counter.c.uploadBytes += d.values.byteLength ?? 0;
        if ((d.values.byteLength ?? 0) >= 1 << 20) counter.c.bigUploads++;
      }
      return upload(dataId);
    };
    b.__counter = counter;
    return counter;
  }
  reset(): void {
    this.c = Counter.zero();
    this.programs.clear();
  }
  read(): Counts {
    const top = [...this.programs.entries()].sort((x, y) => y[1] - x[1]).slice(0, 12);
    return { ...this.c, byProgram: Object.fromEntries(top) };
  }
}

/** tfjs' memory figures on the active backend (webgpu adds GPU-side numbers). */
export function memoryInfo(): Record<string, number | boolean | undefined> {
  const m = tf.memory() as unknown as Record<string, number | boolean | undefined>;
  return { numTensors: m.numTensors, numBytes: m.numBytes, numBytesInGPU: m.numBytesInGPU, numBytesAllocatedInGPU: m.numBytesAllocatedInGPU };
}

/** One V8 CPU profile of `fn` (node:inspector), summarised: top functions by self and total time. */
export async function profileCpu(fn: () => Promise<void>, top = 25): Promise<{ totalMs: number; self: [string, number][]; total: [string, number][] }> {
  const { Session: Inspector } = await import("node:inspector");
  const s = new Inspector();
  s.connect();
  const post = <T>(method: string, params: object = {}) =>
    new Promise<T>((resolve, reject) => s.post(method, params, (e, r) => (e ? reject(e) : resolve(r as T))));
  interface Node {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 250 });
  await post("Profiler.start");
  let profile: { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  try {
    await fn();
  } finally {
    profile = (await post<{ profile: typeof profile }>("Profiler.stop")).profile;
    s.disconnect();
  }
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const label = (n: Node) => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").pop() ?? ""}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  for (const n of profile.nodes) self.set(label(n), (self.get(label(n)) ?? 0) + (selfUs.get(n.id) ?? 0));
  // Inclusive time per label (a label counted once per sample even when recursive).
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const total = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (!seen.has(l)) {
        seen.add(l);
        total.set(l, (total.get(l) ?? 0) + (profile.timeDeltas[i] ?? 0));
      }
    }
  });
  const sorted = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((x, y) => y[1] - x[1])
      .slice(0, top)
      .map(([k, v]) => [k, Math.round(v / 100) / 10] as [string, number]);
  const totalMs = profile.timeDeltas.reduce((a, b) => a + b, 0) / 1000;
  return { totalMs, self: sorted(self), total: sorted(total) };
}
