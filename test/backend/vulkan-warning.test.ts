/**
 * Where Vulkan is missing, Dawn prints its own warnings to stderr from native code (`Couldn't load
 * Vulkan`, `vkCreateInstance: Found no drivers!`). `useBackend` must keep them off the console:
 * `auto` skips webgpu without a word, `webgpu` by name fails once with our message. Each case runs
 * in a child node process (the built package, dist/) with an environment where Vulkan is not found:
 * - no driver: `VK_ICD_FILENAMES=/nonexistent` (the Vulkan loader then finds no ICD manifest);
 * - no loader: `libvulkan.so.1` hidden by a bind mount in a private mount namespace (`unshare -rm`),
 *   where the machine allows it;
 * - a driver without a device: only Intel's ICD (Mesa ships it; there is no Intel GPU here);
 * - a software adapter only: only Mesa's lavapipe ICD, where it is installed.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const dist = join(root, "dist/backend/index.js");
const icdDir = "/usr/share/vulkan/icd.d";

// Calls useBackend once per argument and prints one JSON line per call (errors caught, so stderr
// holds only what Dawn or our code printed).
const script = `
const { useBackend } = await import(${JSON.stringify(`file://${dist}`)});
for (const name of process.argv.slice(1)) {
  try {
    const r = await useBackend(name);
    console.log(JSON.stringify({ name: r.name, tried: r.tried }));
  } catch (e) {
    console.log(JSON.stringify({ error: e.name, message: e.message }));
  }
}`;

interface Call {
  name?: string;
  tried?: { name: string; error: string }[];
  error?: string;
  message?: string;
}

/** Runs the script on `names`; `wrap` is a command put in front of node's (e.g. `unshare …`). */
function run(names: string[], env: Record<string, string>, wrap: string[] = []): { calls: Call[]; stderr: string } {
  const [cmd, ...args] = [...wrap, process.execPath, "--input-type=module", "-e", script, ...names];
  const r = spawnSync(cmd!, args, {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, AUTOLORA_BACKEND: "", XDG_RUNTIME_DIR: "/tmp", ...env },
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const calls = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Call);
  expect(calls).toHaveLength(names.length);
  return { calls, stderr: r.stderr };
}

const webgpuSkip = (c: Call) => c.tried?.find((t) => t.name === "webgpu")?.error;
const dawnInstalled = existsSync(join(root, "node_modules/webgpu/package.json"));
const canUnshare = process.platform === "linux" && spawnSync("unshare", ["-rm", "true"]).status === 0;
const lib = ["/usr/lib/x86_64-linux-gnu/libvulkan.so.1", "/lib/x86_64-linux-gnu/libvulkan.so.1"].find(existsSync);
if (!dawnInstalled) console.warn("vulkan-warning tests skipped: the optional `webgpu` package is not installed");
if (!canUnshare || !lib) console.warn("vulkan-warning: the no-loader case is skipped (needs `unshare -rm` and libvulkan.so.1 to hide)");

describe.skipIf(!existsSync(dist) || !dawnInstalled || process.platform !== "linux")("a missing Vulkan", () => {
  it("no driver: auto says nothing and picks the next backend; by name, our message, once", () => {
    const { calls, stderr } = run(["auto", "webgpu", "webgpu"], { VK_ICD_FILENAMES: "/nonexistent" });
    expect(stderr).toBe("");
    expect(calls[0]!.name).toBe("wasm");
    expect(webgpuSkip(calls[0]!)).toMatch(/^no Vulkan driver \(no ICD manifest in VK_DRIVER_FILES \/ VK_ICD_FILENAMES \(\/nonexistent\)\)/);
    for (const c of calls.slice(1)) {
      expect(c.error).toBe("BackendError");
      expect(c.message).toMatch(/^backend 'webgpu' could not be loaded: no Vulkan driver .*libvulkan1/);
    }
  });

  it.skipIf(!canUnshare || !lib)("no loader (libvulkan.so.1 unreadable): the same, and Dawn never says `Couldn't load Vulkan`", () => {
    // A private mount namespace where the loader is /dev/null (dlopen: "file too short").
    const wrap = ["unshare", "-rm", "sh", "-c", 'mount --bind /dev/null "$0" && exec "$@"', lib!];
    const { calls, stderr } = run(["auto", "webgpu"], {}, wrap);
    expect(stderr).toBe("");
    expect(webgpuSkip(calls[0]!)).toMatch(/^no Vulkan loader \(.*libvulkan\.so\.1/);
    expect(calls[1]!.message).toMatch(/^backend 'webgpu' could not be loaded: no Vulkan loader/);
  });

  it.skipIf(!existsSync(join(icdDir, "intel_icd.json")))("a driver without a device: auto quiet (probed in a child), by name Dawn's own words once", () => {
    const env = { VK_ICD_FILENAMES: join(icdDir, "intel_icd.json") };
    const auto = run(["auto"], env);
    expect(auto.stderr).toBe("");
    expect(webgpuSkip(auto.calls[0]!)).toMatch(/^Dawn found no GPU adapter/);
    // By name Dawn starts in this process and speaks for itself, but only the first time.
    const named = run(["webgpu", "webgpu"], env);
    expect(named.calls.map((c) => c.error)).toEqual(["BackendError", "BackendError"]);
    expect(named.stderr.match(/vkEnumeratePhysicalDevices/g) ?? []).toHaveLength(1);
  });

  it.skipIf(!existsSync(join(icdDir, "lvp_icd.json")))("only a software adapter (lavapipe): auto skips it without Dawn's limit warnings", () => {
    const { calls, stderr } = run(["auto"], { VK_ICD_FILENAMES: join(icdDir, "lvp_icd.json") });
    expect(stderr).toBe("");
    expect(calls[0]!.name).toBe("wasm");
    expect(webgpuSkip(calls[0]!)).toMatch(/^the only adapter is a software one \(webgpu \(.*llvmpipe/);
  });
});
