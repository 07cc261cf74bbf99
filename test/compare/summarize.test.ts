// The comparison's arithmetic: mean, sample standard deviation (n − 1) and cost relative to
// AdaLoRA, checked on numbers worked by hand.
import { describe, expect, it } from "vitest";
import { type MethodResult, summarize, toMarkdown } from "../../sdk/compare/index.js";

const run = (method: string, seed: number, metric: number, ms: number, trainableParams = 100): MethodResult => ({
  method,
  seed,
  metric,
  metricName: "accuracy",
  trainableParams,
  ms,
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
});
