// The tests that `npm run mutation` (Stryker, stryker.config.json) runs against each mutant of
// sdk/meta, sdk/methods/autolora, sdk/train/adamw.ts and sdk/metrics: the files that check those
// modules' numbers against references (PyTorch fixtures, published formulas, sacrebleu, the Session's
// float64 reference steps). About 40 s for the whole set on the 2-core machine; Stryker runs only the
// tests that cover a mutant (coverageAnalysis "perTest").
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "test/meta/hypergradient.test.ts",
      "test/metrics/metrics.test.ts",
      "test/metrics/seqeval.test.ts",
      "test/metrics/bleu-ter.test.ts",
      "test/metrics/registry-text.test.ts",
      "test/metrics/generation.test.ts",
      "test/train/adamw.test.ts",
      "test/train/adamw-checks.test.ts",
      "test/methods/autolora.test.ts",
      "test/methods/ranks.test.ts",
      "test/session/steps.test.ts",
      "test/session/authors-code.test.ts",
    ],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
