import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../sdk/core/errors.js";
import { makeSchedule, warmupStepsOf } from "../../sdk/train/index.js";

const fx = JSON.parse(readFileSync(new URL("../../datasets/fixtures/hf/adamw.json", import.meta.url), "utf8")) as {
  schedule: { warmup: number; total: number; multipliers: number[] };
};

describe("schedules", () => {
  it("linear = transformers.get_linear_schedule_with_warmup", () => {
    const { warmup, total, multipliers } = fx.schedule;
    const s = makeSchedule({ kind: "linear", totalSteps: total, warmupSteps: warmup });
    for (const [i, m] of multipliers.entries()) expect(s(i)).toBeCloseTo(m, 12);
    expect(s(total + 5)).toBe(0);
  });

  it("warmupRatio rounds up like HF's get_warmup_steps", () => {
    expect(warmupStepsOf({ totalSteps: 100, warmupRatio: 0.06 })).toBe(6);
    expect(warmupStepsOf({ totalSteps: 10, warmupRatio: 0.25 })).toBe(3);
    expect(warmupStepsOf({ totalSteps: 10, warmupRatio: 0.25, warmupSteps: 1 })).toBe(1);
    const s = makeSchedule({ totalSteps: 10, warmupRatio: 0.25 });
    for (const [i, m] of fx.schedule.multipliers.entries()) expect(s(i)).toBeCloseTo(m, 12);
  });

  it("constant and cosine", () => {
    const c = makeSchedule({ kind: "constant", totalSteps: 10, warmupSteps: 2 });
    expect([0, 1, 2, 9, 50].map(c)).toEqual([0, 0.5, 1, 1, 1]);
    expect(makeSchedule({ kind: "constant", totalSteps: 10 })(0)).toBe(1);
    const cos = makeSchedule({ kind: "cosine", totalSteps: 12, warmupSteps: 2 });
    expect(cos(1)).toBeCloseTo(0.5, 12);
    expect(cos(2)).toBeCloseTo(1, 12);
    expect(cos(7)).toBeCloseTo(0.5, 12); // half way through the decay
    expect(cos(12)).toBeCloseTo(0, 12);
    // transformers: max(0, 0.5 * (1 + cos(pi * num_cycles * 2 * progress)))
    expect(cos(4)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * (2 / 10))), 12);
  });

  it("rejects bad options", () => {
    expect(() => makeSchedule({ totalSteps: -1 })).toThrow(ConfigError);
    expect(() => makeSchedule({ totalSteps: 10, warmupRatio: 2 })).toThrow(ConfigError);
    expect(() => makeSchedule({ totalSteps: 10, kind: "step" as "linear" })).toThrow(ConfigError);
  });
});
