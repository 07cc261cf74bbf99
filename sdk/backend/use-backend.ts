/**
 * Picking and preparing the tfjs backend. `useBackend('auto')` tries, in order:
 *
 * 1. `tensorflow` — `@tensorflow/tfjs-node-gpu` (CUDA), then `@tensorflow/tfjs-node`: optional,
 *    not in our dependencies (their install downloads libtensorflow), loaded only if present;
 * 2. `webgpu` — Dawn's Node bindings (`webgpu` package, Vulkan on Linux) under
 *    `@tensorflow/tfjs-backend-webgpu`, plus our fixes (webgpu-fixes.ts) and fused kernels
 *    (webgpu-fused.ts; `AUTOLORA_FUSED=0` turns them off);
 * 3. `wasm` — `@tensorflow/tfjs-backend-wasm` (XNNPACK, SIMD) plus our kernels for what it lacks;
 * 4. `cpu` — pure JS, always works.
 *
 * The environment variable `AUTOLORA_BACKEND` overrides the argument; `AUTOLORA_DAWN_OPTIONS` (space
 * separated, e.g. `enable-dawn-features=skip_validation,disable_robustness`) is passed to Dawn's
 * `create()` when the webgpu backend starts.
 *
 * A machine without Vulkan stays quiet: the webgpu loader looks for the Vulkan loader and a driver
 * manifest before it starts Dawn (whose native warnings cannot be silenced once it runs), and
 * `auto` asks a short-lived child process whether there is a hardware adapter before starting Dawn
 * here. `AUTOLORA_VULKAN_PROBE=0` skips the first look.
 * @module
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { BackendError, UnknownNameError } from "../core/errors.js";
import { backendOverride, dawnOptions, vulkanProbeEnabled } from "../core/settings.js";
import { registerWasmKernels } from "./wasm-kernels.js";
import { registerWebgpuFixes } from "./webgpu-fixes.js";
import { registerWebgpuFused } from "./webgpu-fused.js";
import { registerWebgpuOptim } from "./webgpu-optim.js";

/** A backend {@link useBackend} knows how to load, or `auto` for the best that loads. */
export type BackendName = "auto" | "tensorflow" | "webgpu" | "wasm" | "cpu";

/** What {@link useBackend} chose. */
export interface BackendInfo {
  /** The tfjs backend now active (`tensorflow`, `webgpu`, `wasm` or `cpu`). */
  name: Exclude<BackendName, "auto">;
  /** The device in words, e.g. `webgpu (nvidia hopper, Vulkan)`, `wasm (SIMD, 1 thread)`, `cpu (JS)`. */
  device: string;
  /** Backends tried before this one, and why each failed (empty when the first one loaded). */
  tried: { name: Exclude<BackendName, "auto">; error: string }[];
}

const ORDER: readonly Exclude<BackendName, "auto">[] = ["tensorflow", "webgpu", "wasm", "cpu"];
const NAMES: readonly BackendName[] = ["auto", ...ORDER];

/** What a loader resolves to: the device description. Throws when the backend cannot load. */
/** Loads and activates one backend; `auto` is true when `useBackend('auto')` is trying candidates. */
type Loader = (auto: boolean) => Promise<string>;

const HINTS: Record<Exclude<BackendName, "auto">, string> = {
  tensorflow:
    "install @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu (CUDA) 4.22 next to autolora " +
    "(their install downloads libtensorflow from storage.googleapis.com), or use 'webgpu' / 'wasm'",
  webgpu:
    "install the optional packages `webgpu` and `@tensorflow/tfjs-backend-webgpu` 4.22, and on Linux " +
    "the Vulkan loader and a Vulkan driver (Debian: `apt-get install libvulkan1` + the GPU vendor's ICD), " +
    "or use 'wasm'",
  wasm: "reinstall @tensorflow/tfjs-backend-wasm 4.22 (a dependency of autolora), or use 'cpu'",
  cpu: "reinstall @tensorflow/tfjs 4.22",
};

/** `import(spec)` for an optional package, with a variable specifier so nothing requires it statically. */
async function importOptional(spec: string): Promise<Record<string, unknown>> {
  return (await import(spec)) as Record<string, unknown>;
}

function messageOf(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split("\n")[0]!.slice(0, 300);
}

async function activate(name: string): Promise<void> {
  if (tf.getBackend() === name) return;
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') failed (its initialisation threw; see the warning above)`);
  await tf.ready();
}

const loadTensorflow: Loader = async () => {
  const errors: string[] = [];
  for (const spec of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      await importOptional(spec);
    } catch (e) {
      errors.push(`${spec}: ${messageOf(e)}`);
      continue;
    }
    if (!tf.findBackendFactory("tensorflow")) {
      throw new Error(
        `${spec} loaded but registered no 'tensorflow' backend with this copy of @tensorflow/tfjs ` +
          "(two copies installed? align its version with @tensorflow/tfjs 4.22)",
      );
    }
    await activate("tensorflow");
    return spec.endsWith("-gpu") ? "tensorflow (libtensorflow, CUDA when a GPU is visible)" : "tensorflow (libtensorflow CPU)";
  }
  throw new Error(`not installed (${errors.join("; ")})`);
};

/** Minimal typing of the parts of WebGPU we touch (the `webgpu` package's own types are global). */
interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

/**
 * Whether an adapter is a software rasteriser (Mesa's lavapipe/llvmpipe, SwiftShader): WebGPU
 * then runs on the CPU, far slower than `wasm`. `auto` skips such adapters; asking for `webgpu`
 * by name still takes them (the webgpu kernel tests run on lavapipe where there is no GPU).
 */
function isSoftwareAdapter(adapter: GpuAdapterLike): boolean {
  const i = adapter.info ?? {};
  if (adapter.isFallbackAdapter || i.isFallbackAdapter) return true;
  return /llvmpipe|lavapipe|swiftshader|software/i.test([i.architecture, i.device, i.description].filter(Boolean).join(" "));
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

/**
 * Why Vulkan cannot work here, or undefined when it may: Linux only (Dawn uses Metal on macOS,
 * D3D12 on Windows). Dawn reaches the GPU through the Vulkan loader (`libvulkan.so.1`) and a
 * driver manifest (ICD); where either is missing it prints its own warnings to stderr from native
 * code (`Couldn't load Vulkan: …`, `vkCreateInstance: Found no drivers!`), which JS can neither
 * catch nor silence. So we look first, by the loader's own rules, and never start Dawn where it
 * can only fail: `auto` then skips webgpu without a word, and `webgpu` by name fails once, in our
 * words. `AUTOLORA_VULKAN_PROBE=0` turns the look off (Dawn then tries, and speaks for itself).
 */
function vulkanMissing(): string | undefined {
  if (process.platform !== "linux" || !vulkanProbeEnabled()) return undefined;
  try {
    // dlopen with the dynamic linker's search rules, as Dawn does. A library that loads but is
    // not a Node addon throws "did not self-register": that means the loader is there.
    process.dlopen({ exports: {} } as NodeJS.Module, "libvulkan.so.1");
  } catch (e) {
    const m = messageOf(e);
    if (!/self-register|Module did not/i.test(m)) return `no Vulkan loader (${m})`;
  }
  const env = process.env;
  const split = (v: string | undefined) => (v ?? "").split(":").filter(Boolean);
  const explicit = [...split(env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES)];
  const home = homedir();
  const defaults = [
    env.XDG_CONFIG_HOME || join(home, ".config"),
    ...(split(env.XDG_CONFIG_DIRS).length ? split(env.XDG_CONFIG_DIRS) : ["/etc/xdg"]),
    "/usr/local/etc",
    "/etc",
    env.XDG_DATA_HOME || join(home, ".local/share"),
    ...(split(env.XDG_DATA_DIRS).length ? split(env.XDG_DATA_DIRS) : ["/usr/local/share", "/usr/share"]),
  ].map((d) => join(d, "vulkan/icd.d"));
  const places = [...(explicit.length ? explicit : defaults), ...split(env.VK_ADD_DRIVER_FILES)];
  const hasManifest = (p: string): boolean => {
    try {
      if (statSync(p).isDirectory()) return readdirSync(p).some((f) => f.endsWith(".json"));
      return existsSync(p);
    } catch {
      return false;
    }
  };
  if (places.some(hasManifest)) return undefined;
  const where = explicit.length ? `VK_DRIVER_FILES / VK_ICD_FILENAMES (${explicit.join(":")})` : "/usr/share/vulkan/icd.d, /etc/vulkan/icd.d and the XDG dirs";
  return `no Vulkan driver (no ICD manifest in ${where})`;
}

let vulkanVerdict: { missing: string | undefined } | undefined;
/** What `auto` learned about webgpu in a child process (one look per process). */
let autoVerdict: Promise<string | undefined> | undefined;

/**
 * For `auto` only: start Dawn in a child process first, its stderr discarded, to learn whether
 * there is a hardware adapter. Dawn speaks on stderr from native code wherever it finds nothing
 * useful (a driver without a device, Mesa's lavapipe reducing its limits), and `auto` must stay
 * quiet when it skips webgpu. Resolves to the reason to skip, or undefined to go on (also when no
 * child can be started: then the in-process start decides, as before).
 */
function probeAdapterInChild(): Promise<string | undefined> {
  let url: string;
  try {
    url = pathToFileURL(createRequire(import.meta.url).resolve("webgpu")).href;
  } catch (e) {
    return Promise.resolve(`not installed (${messageOf(e)})`);
  }
  // The child gets the `webgpu` package's URL and Dawn's options (from sdk/core/settings.ts) as
  // its arguments: `node -e code url options` puts them at argv[1] and argv[2].
  const code = [
    "const { create } = await import(process.argv[1]);",
    "const gpu = create(JSON.parse(process.argv[2]));",
    "const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });",
    "const i = a?.info ?? {};",
    "const out = a && { info: { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: i.isFallbackAdapter }, isFallbackAdapter: a.isFallbackAdapter };",
    "process.stdout.write('AUTOLORA_ADAPTER ' + JSON.stringify(out ?? null) + '\\n', () => process.exit(0));",
  ].join("\n");
  return new Promise((resolve) => {
    let out = "";
    let settled = false;
    const done = (v: string | undefined) => {
      if (settled) return;
      settled = true;
      resolve(v);
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(process.execPath, ["--input-type=module", "-e", code, url, JSON.stringify(dawnOptions())], {
        stdio: ["ignore", "pipe", "ignore"],
        timeout: 60_000,
      });
    } catch {
      return done(undefined);
    }
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", () => done(undefined));
    child.on("close", (rc, signal) => {
      const line = out.split("\n").find((l) => l.startsWith("AUTOLORA_ADAPTER "));
      if (!line) return done(`Dawn's start failed in a probe process (${signal ? `signal ${signal}` : `exit code ${rc}`})`);
      const adapter = JSON.parse(line.slice("AUTOLORA_ADAPTER ".length)) as GpuAdapterLike | null;
      if (!adapter) return done("Dawn found no GPU adapter (no GPU, or no Vulkan driver for it)");
      if (isSoftwareAdapter(adapter)) {
        return done(`the only adapter is a software one (${describeWebgpu(adapter)}), slower than wasm; ask for 'webgpu' by name to use it anyway`);
      }
      done(undefined);
    });
  });
}

const loadWebgpu: Loader = async (auto) => {
  if (tf.getBackend() === "webgpu") {
    registerWebgpuFixes();
    registerWebgpuFused();
    registerWebgpuOptim();
    return describeWebgpu(undefined);
  }
  vulkanVerdict ??= { missing: vulkanMissing() };
  if (vulkanVerdict.missing) {
    throw new Error(`${vulkanVerdict.missing}; Dawn (the \`webgpu\` package) reaches the GPU through Vulkan on Linux`);
  }
  if (auto) {
    autoVerdict ??= probeAdapterInChild();
    const skip = await autoVerdict;
    if (skip) throw new Error(skip);
  }
  const dawn = await importOptional("webgpu");
  const create = dawn.create as ((options: string[]) => GpuLike) | undefined;
  const globals = dawn.globals as Record<string, unknown> | undefined;
  if (typeof create !== "function" || !globals) throw new Error("the `webgpu` package exports no create()/globals");
  // Dawn's own options (e.g. "enable-dawn-features=skip_validation"), space separated, for
  // measuring what Dawn's validation and robustness cost; empty by default.
  const gpu = create(dawnOptions());
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    // Remembered: starting Dawn again would only print its warnings again.
    vulkanVerdict = { missing: "Dawn found no GPU adapter (no GPU, or no Vulkan driver for it)" };
    throw new Error(vulkanVerdict.missing);
  }
  if (auto && isSoftwareAdapter(adapter)) {
    throw new Error(`the only adapter is a software one (${describeWebgpu(adapter)}), slower than wasm; ask for 'webgpu' by name to use it anyway`);
  }
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (!g.navigator?.gpu) {
    Object.assign(globalThis, globals);
    const nav = g.navigator ?? {};
    Object.defineProperty(globalThis, "navigator", {
      value: Object.assign(nav, { gpu }),
      configurable: true,
      writable: true,
    });
  }
  await importOptional("@tensorflow/tfjs-backend-webgpu");
  if (!tf.findBackendFactory("webgpu")) {
    throw new Error(
      "@tensorflow/tfjs-backend-webgpu was imported before navigator.gpu existed, so it registered nothing: " + "call useBackend('webgpu') before importing it",
    );
  }
  await activate("webgpu");
  registerWebgpuFixes();
  registerWebgpuFused(); // fused LayerNorm / GELU / attention softmax (fewer dispatches)
  registerWebgpuOptim(); // fused Adam step, finiteness check, DARTS' axpy / sum of squares
  return describeWebgpu(adapter);
};

function describeWebgpu(adapter: GpuAdapterLike | undefined): string {
  const info = adapter?.info;
  if (!info) return "webgpu (Dawn)";
  const parts = [info.vendor, info.architecture, info.description || info.device].filter((s) => s);
  return `webgpu (${parts.join(", ") || "unknown adapter"}; Dawn)`;
}

/**
 * Emscripten's Node glue (inside tfjs-backend-wasm) installs process-wide `uncaughtException` and
 * `unhandledRejection` handlers when the module starts: from then on any error the user's script
 * does not catch prints a line of minified wasm glue and exits with status 7 (seen with the
 * README's example). They are not needed for tfjs' use of the module, so we remove the ones that
 * appeared while loading and keep Node's own behaviour (and the CLI's handlers).
 */
async function withoutEmscriptenHandlers<T>(fn: () => Promise<T>): Promise<T> {
  const events = ["uncaughtException", "unhandledRejection"] as "uncaughtException"[];
  const before = new Map(events.map((e) => [e, new Set<unknown>(process.listeners(e))]));
  try {
    return await fn();
  } finally {
    for (const e of events) for (const l of process.listeners(e)) if (!before.get(e)!.has(l)) process.removeListener(e, l);
  }
}

const loadWasm: Loader = async () => {
  const wasm = await withoutEmscriptenHandlers(() => import("@tensorflow/tfjs-backend-wasm"));
  registerWasmKernels();
  await withoutEmscriptenHandlers(() => activate("wasm"));
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  const threads = wasm.getThreadsCount();
  return `wasm (${simd ? "SIMD" : "no SIMD"}, ${threads} thread${threads === 1 ? "" : "s"})`;
};

const loadCpu: Loader = async () => {
  await activate("cpu");
  return "cpu (JS)";
};

const LOADERS: Record<Exclude<BackendName, "auto">, Loader> = {
  tensorflow: loadTensorflow,
  webgpu: loadWebgpu,
  wasm: loadWasm,
  cpu: loadCpu,
};

/**
 * Select the tfjs backend: `auto` takes the first that loads of `tensorflow`, `webgpu`, `wasm`,
 * `cpu` (skipping webgpu when its only adapter is a software rasteriser such as Mesa's
 * llvmpipe, which is slower than wasm); a name takes that one or throws. The environment variable `AUTOLORA_BACKEND`
 * (same names) overrides `name`. Safe to call again (switches backend; tensors made on the old
 * backend are moved on first use).
 *
 * @param name which backend, default `auto`.
 * @returns the active backend, its device in words, and what was tried before it.
 * @throws {@link UnknownNameError} for a name not in the list; {@link BackendError} when the
 *   named backend cannot load (the message says why and what to install).
 * @example
 * ```ts
 * const { name, device, tried } = await useBackend();      // e.g. "wasm", "wasm (SIMD, 1 thread)"
 * for (const t of tried) console.log(`${t.name} skipped: ${t.error}`);
 * await useBackend("cpu");                                   // the reference backend, in tests
 * ```
 */
export async function useBackend(name: BackendName = "auto"): Promise<BackendInfo> {
  const fromEnv = backendOverride();
  const wanted = (fromEnv ?? name) as BackendName;
  if (!NAMES.includes(wanted)) {
    throw new UnknownNameError(`unknown backend '${wanted}'${fromEnv ? " (from AUTOLORA_BACKEND)" : ""}: use one of ${NAMES.join(", ")}`);
  }
  const candidates = wanted === "auto" ? ORDER : [wanted];
  const tried: BackendInfo["tried"] = [];
  for (const candidate of candidates) {
    try {
      const device = await LOADERS[candidate](wanted === "auto");
      return { name: candidate, device, tried };
    } catch (e) {
      tried.push({ name: candidate, error: messageOf(e) });
      if (wanted !== "auto") {
        throw new BackendError(`backend '${candidate}' could not be loaded: ${messageOf(e)}. To fix: ${HINTS[candidate]}.`, { cause: e });
      }
    }
  }
  // Unreachable in practice: cpu always loads.
  throw new BackendError(`no backend could be loaded (${tried.map((t) => `${t.name}: ${t.error}`).join("; ")}); reinstall @tensorflow/tfjs`);
}
