import { defineConfig } from "vitest/config";

// Coverage (v8) is on when AUTOLORA_COVERAGE=1 (.ci/run sets it, so CI's `npm test` prints the
// summary and fails under the floor) or with `npm run coverage`. Counted: sdk/ without the webgpu
// kernels (sdk/backend/webgpu-*: they run only where lavapipe or a GPU gives an adapter) and the
// generated plotly bundle. Code that runs in child processes (the CLI's, the kernel's, the
// notebooks') is not counted. Floor: 90% lines and functions, 85% branches (issue 20).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/bench/**", "node_modules/**"],
    // The slowest model tests (the task suites' LoRA training, the authors-code reference steps)
    // took up to 87 s in a fresh-clone CI run with coverage on while other work loaded both cores
    // (2026-12-04): 300 s keeps every test under a third of its timeout (issue 20). Notebooks and
    // the kernel's suites set their own.
    testTimeout: 300_000,
    hookTimeout: 120_000,
    // tfjs keeps global state (backend, tensor registry): one file per worker process.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    coverage: {
      enabled: process.env.AUTOLORA_COVERAGE === "1",
      provider: "v8",
      include: ["sdk/**"],
      exclude: ["sdk/backend/webgpu-*", "sdk/viz/plotly-lite.generated.ts"],
      reporter: ["text-summary"],
      reportOnFailure: true,
      thresholds: { lines: 90, functions: 90, branches: 85 },
    },
  },
});
