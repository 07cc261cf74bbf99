// Paired statistics (sdk/compare/stats.ts) against published values, and common random numbers:
// on one seed, AutoLoRA's retraining with every rank = r is the plain LoRA run, step for step.

import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { loraRunner, type MethodResult, pairedDifferences, type RunContext, summarize, toMarkdown } from "../../sdk/compare/compare.js";
import { describeDifference, formatP, holmAdjust, incompleteBeta, pairedDifference, studentTCdf, studentTQuantile } from "../../sdk/compare/stats.js";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { Session } from "../../sdk/session/index.js";
import { TINY, toyExamples } from "../session/helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("Student's t", () => {
  it("0.975 quantiles match the published table (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2)", () => {
    const table: [number, number][] = [
      [1, 12.706],
      [2, 4.303],
      [3, 3.182],
      [5, 2.571],
      [9, 2.262],
      [10, 2.228],
      [19, 2.093],
      [29, 2.045],
      [100, 1.984],
    ];
    for (const [df, t] of table) expect(studentTQuantile(0.975, df)).toBeCloseTo(t, 3);
    expect(studentTQuantile(0.95, 10)).toBeCloseTo(1.812, 3);
    expect(studentTQuantile(0.025, 9)).toBeCloseTo(-2.262, 3);
    expect(studentTQuantile(0.975, 1e6)).toBeCloseTo(1.96, 2); // the normal limit
  });

  it("the CDF matches closed forms: Cauchy (df 1), df 2, symmetry", () => {
    for (const t of [-3, -0.5, 0, 0.7, 2, 10]) {
      expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 12);
      expect(studentTCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 12);
      expect(studentTCdf(t, 7) + studentTCdf(-t, 7)).toBeCloseTo(1, 12);
    }
  });

  it("the incomplete beta function matches closed forms", () => {
    for (const x of [0.01, 0.3, 0.5, 0.77, 0.99]) {
      expect(incompleteBeta(x, 1, 1)).toBeCloseTo(x, 12);
      expect(incompleteBeta(x, 3, 1)).toBeCloseTo(x ** 3, 12);
      expect(incompleteBeta(x, 1, 4)).toBeCloseTo(1 - (1 - x) ** 4, 12);
    }
    expect(incompleteBeta(0.5, 6.5, 6.5)).toBeCloseTo(0.5, 12);
    expect([incompleteBeta(0, 2, 3), incompleteBeta(1, 2, 3)]).toEqual([0, 1]);
  });
});

describe("paired differences", () => {
  const seeds = (xs: number[]) => new Map(xs.map((x, i) => [i, x]));

  it("mean, sd, t interval and wins by hand; an interval across 0 is 'unresolved'", () => {
    // differences 0.02, 0.03, −0.01, 0.04: mean 0.02, s = √(0.0014/3), half-width t(0.975, 3)·s/2
    const d = pairedDifference("autolora", seeds([0.72, 0.73, 0.69, 0.74]), "lora", seeds([0.7, 0.7, 0.7, 0.7]));
    const s = Math.sqrt(0.0014 / 3);
    expect(d.mean).toBeCloseTo(0.02, 12);
    expect(d.std).toBeCloseTo(s, 12);
    expect(d.ci95![0]).toBeCloseTo(0.02 - 3.182446 * (s / 2), 5);
    expect(d.ci95![1]).toBeCloseTo(0.02 + 3.182446 * (s / 2), 5);
    expect([d.wins, d.losses, d.ties]).toEqual([3, 1, 0]);
    expect(d.verdict).toBe("unresolved");
    expect(describeDifference(d)).toMatch(/^autolora − lora: 2\.00 \(95% CI −1\.44 to 5\.44\) over 4 seeds, 3\/4 wins: not resolved/);
  });

  it("better / worse when the interval excludes 0; a loss metric counts lower as a win; only shared seeds count", () => {
    const up = pairedDifference("a", seeds([0.8, 0.81, 0.82, 0.8]), "b", seeds([0.7, 0.7, 0.71, 0.7]));
    expect(up.verdict).toBe("better");
    const down = pairedDifference("a", seeds([0.6, 0.61, 0.6]), "b", seeds([0.7, 0.7, 0.71]));
    expect(down.verdict).toBe("worse");
    const loss = pairedDifference("a", seeds([0.3, 0.31, 0.3]), "b", seeds([0.4, 0.4, 0.42]), false);
    expect([loss.verdict, loss.wins]).toEqual(["better", 3]);
    const some = pairedDifference(
      "a",
      new Map([
        [0, 0.5],
        [2, 0.6],
        [7, 0.9],
      ]),
      "b",
      new Map([
        [0, 0.4],
        [2, 0.4],
        [3, 0.1],
      ]),
    );
    expect(some.seeds).toEqual([0, 2]);
    expect(pairedDifference("a", seeds([0.5]), "b", seeds([0.4])).verdict).toBe("too few seeds");
  });

  it("p: the paired t-test's two-sided p-value, at the t table's critical values", () => {
    // Differences whose t statistic is the table's t_{0.995, 9} = 3.250 (NIST/SEMATECH 1.3.6.7.2): p = 0.01.
    const n = 10;
    const base = [1, -1, 1, -1, 1, -1, 1, -1, 1, -1]; // mean 0, sd √(10/9)
    const sd = Math.sqrt(10 / 9);
    const shift = (3.25 * 0.01 * sd) / Math.sqrt(n); // the differences are shift ± 0.01
    const d = pairedDifference("a", seeds(base.map((x) => 0.5 + shift + x * 0.01)), "b", seeds(base.map(() => 0.5)));
    expect(d.p).toBeCloseTo(0.01, 4);
    // t_{0.975, 4} = 2.776: p = 0.05 with 5 seeds.
    const five = [0.02, -0.02, 0.01, -0.01, 0];
    const sd5 = Math.sqrt(five.reduce((s, x) => s + x * x, 0) / 4);
    const d5 = pairedDifference("a", seeds(five.map((x) => 0.6 + x + (2.776 * sd5) / Math.sqrt(5))), "b", seeds(five.map(() => 0.6)));
    expect(d5.p).toBeCloseTo(0.05, 3);
    expect(pairedDifference("a", seeds([0.5]), "b", seeds([0.4])).p).toBeNull();
    expect(pairedDifference("a", seeds([0.5, 0.6]), "b", seeds([0.4, 0.5])).p).toBeNull(); // std 0
  });

  it("holmAdjust matches R's p.adjust(p, 'holm')", () => {
    // R 4.x: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") → 0.03 0.06 0.06 0.02
    const adj = holmAdjust([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((x, i) => expect(adj[i]).toBeCloseTo(x, 12));
    // capped at 1, nulls kept out of the family: p.adjust(c(0.5, 0.9), "holm") → 1 1
    expect(holmAdjust([0.5, null, 0.9])).toEqual([1, null, 1]);
    expect(holmAdjust([])).toEqual([]);
    expect([0.0234, 0.5, 0.0004, null, undefined].map(formatP)).toEqual(["0.023", "0.50", "< 0.001", "n/a", "n/a"]);
  });

  it("the same score on every seed is `identical`, not an unresolved zero-width interval", () => {
    const same = pairedDifference("autolora-sigmoid", seeds([0.9, 0.8, 0.85]), "lora", seeds([0.9, 0.8, 0.85]));
    expect(same.ci95).toEqual([0, 0]);
    expect(same.verdict).toBe("identical");
    expect(describeDifference(same)).toContain("identical to lora on every seed");
    // One seed apart is not identical.
    expect(pairedDifference("a", seeds([0.9, 0.8, 0.85]), "b", seeds([0.9, 0.8, 0.84])).verdict).toBe("unresolved");
  });

  it("compare's tables carry the paired differences from the baseline, with the verdict in words", () => {
    const run = (method: string, seed: number, metric: number): MethodResult => ({ method, seed, metric, metricName: "f1", trainableParams: 10, ms: 1 });
    const s = summarize([
      run("lora", 0, 0.7),
      run("lora", 1, 0.6),
      run("lora", 2, 0.8),
      run("autolora", 0, 0.71),
      run("autolora", 1, 0.62),
      run("autolora", 2, 0.8),
    ]);
    const paired = pairedDifferences(s);
    expect(paired.map((d) => [d.method, d.baseline, d.seeds.length])).toEqual([["autolora", "lora", 3]]);
    expect(pairedDifferences(s, "autolora")[0]!.baseline).toBe("autolora");
    const md = toMarkdown({ summaries: s, paired });
    expect(md).toContain("Paired differences from **lora**");
    expect(md).toMatch(/\| autolora \| 1\.00 \| -\d\.\d\d to \d\.\d\d \| 2\/3 \| not resolved \|/);
    expect(md).toContain("not resolved: the interval contains 0");
  });
});

describe("common random numbers", () => {
  it("AutoLoRA's retraining with every rank = r, on the run's seed and examples, is the LoRA run (same dev loss)", async () => {
    const tokenizer = await loadTokenizer(TINY);
    const train = toyExamples(24, 5);
    const dev = toyExamples(8, 6);
    const ctx: RunContext = {
      modelDir: TINY,
      task: { name: "toy", head: "sequence-classification", numLabels: 3, metrics: [], labels: null, train, dev },
      tokenizer,
      seed: 4,
      epochs: 2,
      batchSize: 4,
      maxLength: 32,
      lr: 5e-3,
      rank: 4,
    };
    const lora = await loraRunner.run(ctx);
    expect(lora.metricName).toBe("loss");
    const model = await loadPretrained(TINY, { head: "sequence-classification", numLabels: 3, seed: ctx.seed });
    const session = await Session.create({ model, tokenizer, data: { train, dev, metrics: [] }, maxRank: 4, maxLength: 32, batchSize: 4, seed: ctx.seed });
    const ranks = session.ranks().map((r) => ({ name: r.name, rank: 4 }));
    const same = await session.retrain({ ranks, examples: train, seed: ctx.seed, epochs: 2, lr: ctx.lr, alpha: 4, warmupRatio: 0.06, live: false });
    const other = await session.retrain({ ranks, epochs: 2, lr: ctx.lr, alpha: 4, warmupRatio: 0.06, live: false }); // the session's own seeds
    expect(same.eval.loss).toBeCloseTo(lora.metric, 5);
    expect(Math.abs(other.eval.loss - lora.metric)).toBeGreaterThan(1e-4); // the check can tell
    same.model.dispose();
    other.model.dispose();
    session.dispose();
    model.dispose();
  }, 120_000);
});
