// The AUTOLORA_* switches (sdk/core/settings.ts): defaults, and read at each call (an A/B run or
// a test may set one between two steps).
import { afterEach, describe, expect, it, vi } from "vitest";
import * as settings from "../../sdk/core/settings.js";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("settings", () => {
  it("on/off switches: on by default and for any value but 0, off for 0, read at each call", () => {
    const switches: [string, () => boolean][] = [
      ["AUTOLORA_FUSED", settings.fusedKernelsEnabled],
      ["AUTOLORA_FUSED_LINEAR", settings.fusedLinearEnabled],
      ["AUTOLORA_DEVICE_DROPOUT", settings.deviceDropoutEnabled],
      ["AUTOLORA_BGL_CACHE", settings.bindGroupLayoutCacheEnabled],
      ["AUTOLORA_VULKAN_PROBE", settings.vulkanProbeEnabled],
    ];
    for (const [name, get] of switches) {
      vi.stubEnv(name, undefined);
      expect(get(), name).toBe(true);
      vi.stubEnv(name, "0");
      expect(get(), name).toBe(false);
      vi.stubEnv(name, "1");
      expect(get(), name).toBe(true);
    }
  });

  it("AUTOLORA_BACKEND trimmed and lower-cased, blank as unset; AUTOLORA_DAWN_OPTIONS split on white space", () => {
    vi.stubEnv("AUTOLORA_BACKEND", undefined);
    expect(settings.backendOverride()).toBeUndefined();
    vi.stubEnv("AUTOLORA_BACKEND", "  ");
    expect(settings.backendOverride()).toBeUndefined();
    vi.stubEnv("AUTOLORA_BACKEND", " WASM ");
    expect(settings.backendOverride()).toBe("wasm");
    vi.stubEnv("AUTOLORA_DAWN_OPTIONS", undefined);
    expect(settings.dawnOptions()).toEqual([]);
    vi.stubEnv("AUTOLORA_DAWN_OPTIONS", " enable-dawn-features=a,b  disable-dawn-features=c ");
    expect(settings.dawnOptions()).toEqual(["enable-dawn-features=a,b", "disable-dawn-features=c"]);
  });
});
