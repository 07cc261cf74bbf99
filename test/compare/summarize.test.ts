// The comparison's arithmetic: mean, sample standard deviation (n − 1), cost relative to
// AdaLoRA and per-layer ranks, checked on numbers worked by hand; and the table's honest headers.
import { describe, expect, it } from "vitest";
import { type MethodResult, summarize, toMarkdown } from "../../sdk/compare/index.js";

const run = (method: string, seed: number, metric: number, ms: number, trainableParams = 100, ranks?: number[]): MethodResult => ({
  method,
  seed,
  metric,
  metricName: "accuracy",
  trainableParams,
  ms,
  ...(ranks ? { ranks: ranks.map((rank, i) => ({ name: `layer.${i}`, rank })) } : {}),
});

describe("summarize", () => {
  it("mean ± sample std per method, costs normalised to AdaLoRA", () => {
    const s = summarize([
      run("lora", 0, 0.8, 100),
      run("lora", 1, 0.9, 300),
      run("lora", 2, 0.7, 200),
      run("adalora", 0, 0.75, 400),
      run("adalora", 1, 0.85, 400),
    ]);
    const lora = s.find((x) => x.method === "lora")!;
    expect(lora.mean).toBeCloseTo(0.8, 12);
    expect(lora.std).toBeCloseTo(0.1, 12); // deviations ±0.1, 0: sqrt(0.02 / 2)
    expect(lora.ms).toBe(200);
    expect(lora.costVsAdalora).toBeCloseTo(0.5, 12);
    expect(s.find((x) => x.method === "adalora")!.std).toBeCloseTo(Math.sqrt(0.005), 12);
    const md = toMarkdown({ options: { modelDir: "m", methods: ["lora", "adalora"], seeds: 3, task: "t" }, summaries: s });
    expect(md).toContain("| lora | 80.00 ± 10.00 | 100 | 0.2 | ×0.50 |");
  });

  it("without AdaLoRA there is no normalised cost, and one run has std 0", () => {
    const [x] = summarize([run("full", 0, 0.6, 50, 30000)]);
    expect(x).toMatchObject({ mean: 0.6, std: 0, costVsAdalora: null, trainableParams: 30000 });
  });

  it("per-layer ranks: mean and each seed's rank, for methods whose runs all report them", () => {
    const s = summarize([run("autolora", 0, 0.8, 10, 100, [3, 1]), run("autolora", 1, 0.9, 10, 100, [4, 2]), run("full", 0, 0.7, 10)]);
    expect(s[0]!.ranks).toEqual([
      { name: "layer.0", mean: 3.5, bySeed: [3, 4] },
      { name: "layer.1", mean: 1.5, bySeed: [1, 2] },
    ]);
    expect(s[1]!.ranks).toBeUndefined();
    const md = toMarkdown({ summaries: s });
    expect(md).toContain("| layer | autolora |");
    expect(md).toContain("| layer.0 | 3.5 |");
  });

  it("headers: '1 seed', no AdaLoRA column without AdaLoRA, methods without runs left out, interrupted said", () => {
    const s = summarize([run("lora", 0, 0.5, 1000), run("full", 0, 0.25, 2000)], ["lora", "adalora", "full"]);
    expect(s.map((x) => x.method)).toEqual(["lora", "full"]);
    const md = toMarkdown({ summaries: s, interrupted: { completedRuns: 2, plannedRuns: 6 } });
    expect(md).toContain("(mean ± std, 1 seed) | trainable params | wall time (s) |\n");
    expect(md).not.toMatch(/AdaLoRA|–/);
    expect(md).toContain("| lora | 50.00 ± 0.00 | 100 | 1.0 |\n");
    expect(md).toContain("**Interrupted**: 2 of 6 runs completed");
    // Different run counts per method (an interrupted comparison): a range, not one number.
    const uneven = summarize([run("lora", 0, 0.5, 1), run("lora", 1, 0.5, 1), run("full", 0, 0.5, 1)]);
    expect(toMarkdown({ summaries: uneven })).toContain("1–2 seeds");
  });
});
