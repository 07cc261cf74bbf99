// Driving a session from a notebook: run() and retrain() pause at a step boundary (stop(), an
// interrupt, a signal) and the paused session equals one asked for exactly those steps; one lock
// refuses every call made while another operation runs; run()'s options are checked up front.

import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../sdk/core/errors.js";
import { interruptAll, taskRegister } from "../../sdk/core/interrupt.js";
import { Session } from "../../sdk/session/index.js";
import { fingerprintState, makeSession, tinySetup, toyData, toyExamples } from "./helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("pausing run() and retrain()", () => {
  it("stop() from onStep pauses after that step; the session equals one run for exactly those steps", async () => {
    const a = await makeSession();
    const r = await a.run({ steps: 40, onStep: ({ step }) => step === 2 && a.stop() });
    expect(r).toEqual({ steps: 2, aborted: true, reason: "stop" });
    expect(a.busy).toBeUndefined();
    expect([a.innerSteps, a.outerSteps, a.historyRows().length]).toEqual([2, 2, 4]);
    const b = await makeSession();
    expect((await b.run({ steps: 2 })).aborted).toBe(false);
    expect(await fingerprintState(a)).toEqual(await fingerprintState(b)); // (going on identically: the interrupt test)
    expect(a.stop()).toBe(false); // nothing running
    a.dispose();
    b.dispose();
  });

  it("an interrupt from a timer pauses at a step boundary; counters stay put; 1 more step = straight run", async () => {
    const a = await makeSession();
    const r = await a.run({ steps: 40, onStep: ({ step }) => step === 1 && setTimeout(() => interruptAll(), 0) });
    expect(r.aborted).toBe(true);
    expect(r.reason).toBe("interrupt");
    expect(r.steps).toBeGreaterThanOrEqual(1);
    expect(r.steps).toBeLessThan(40);
    expect(taskRegister().tasks.size).toBe(0); // nothing of ours keeps running
    const counters = [a.innerSteps, a.outerSteps];
    await new Promise((res) => setTimeout(res, 200));
    expect([a.innerSteps, a.outerSteps]).toEqual(counters);
    expect(counters).toEqual([r.steps, r.steps]);
    expect(a.historyRows().length).toBe(2 * r.steps);
    await a.step();
    const b = await makeSession();
    await b.run({ steps: r.steps + 1 });
    expect(await fingerprintState(a)).toEqual(await fingerprintState(b));
    a.dispose();
    b.dispose();
  });

  it("an already aborted signal takes no step", async () => {
    const s = await makeSession();
    const ac = new AbortController();
    ac.abort();
    expect(await s.run({ steps: 5, signal: ac.signal })).toEqual({ steps: 0, aborted: true, reason: "signal" });
    expect(s.innerSteps).toBe(0);
    s.dispose();
  });

  it("retrain() pauses too and resolves with aborted: true and the steps it took", async () => {
    const s = await makeSession({ data: { train: toyExamples(20, 1), dev: toyExamples(4, 2) }, batchSize: 4 });
    await s.step();
    const ranks = s.ranks();
    const full = await s.retrain({ ranks, epochs: 1, lr: 1e-2 });
    expect(full).toMatchObject({ aborted: false, steps: 5 });
    const part = await s.retrain({ ranks, epochs: 1, lr: 1e-2, onProgress: ({ step }) => step === 2 && s.stop() });
    expect(part.aborted).toBe(true);
    expect(part.steps).toBe(2);
    expect(part.losses).toEqual(full.losses.slice(0, 2)); // the same first steps
    expect(s.busy).toBeUndefined();
    full.model.dispose();
    part.model.dispose();
    s.dispose();
  });
});

describe("one lock for the session", () => {
  it("refuses every call made during a step of run(), naming what runs; works again after", async () => {
    const s = await makeSession();
    const dir = await mkdtemp(join(tmpdir(), "session-lock-"));
    let refusals: string[] = [];
    let probed: Promise<void> | undefined;
    const r = await s.run({
      steps: 40,
      onStep: ({ step }) => {
        if (step !== 1) return;
        // a timer fires once onStep has returned: during the next step (or the pause between steps)
        probed = new Promise((done) =>
          setTimeout(async () => {
            expect(s.busy).toBe("run()");
            const calls = [s.save(dir), s.innerStep(), s.outerStep(), s.step(), s.evaluate(), s.retrain()];
            refusals = (await Promise.all(
              calls.map((p) =>
                p.then(
                  () => "resolved",
                  (e) => (e instanceof ConfigError ? e.message : String(e)),
                ),
              ),
            )) as string[];
            expect(() => s.dispose()).toThrow(/run\(\) is still running/);
            expect(() => s.setLearningRates({ innerLr: 1e-3 })).toThrow(ConfigError);
            s.stop();
            done();
          }, 0),
        );
      },
    });
    await probed;
    expect(refusals).toHaveLength(6);
    for (const m of refusals)
      expect(m).toMatch(
        /^cannot start \w+\(\): run\(\) is still running \(step \d+ of 40\): call session\.stop\(\) or interrupt the kernel, then try again\.$/,
      );
    expect(r.aborted).toBe(true);
    expect([s.innerSteps, s.outerSteps]).toEqual([r.steps, r.steps]); // nothing interleaved
    expect(s.busy).toBeUndefined();
    await s.save(dir);
    await s.step();
    s.dispose();
  });

  it("onStep runs at a step boundary: save() and evaluate() work there (awaited or not), a step does not", async () => {
    const s = await makeSession();
    const d1 = await mkdtemp(join(tmpdir(), "session-boundary-"));
    const d2 = await mkdtemp(join(tmpdir(), "session-boundary-"));
    let stepError: unknown;
    await s.run({
      steps: 3,
      onStep: async ({ step }) => {
        if (step === 1) return s.save(d1);
        if (step === 2) {
          void s.save(d2); // not awaited: run() waits for it before step 3
          stepError = await s.innerStep().catch((e) => e);
          await expect(s.evaluate()).rejects.toThrow(/cannot start evaluate\(\): save\(\) is still running/);
        }
        if (step === 3) await s.evaluate();
      },
    });
    expect(stepError).toBeInstanceOf(ConfigError);
    expect(s.historyRows().map((r) => r.phase)).toEqual(["inner", "outer", "inner", "outer", "inner", "outer", "eval"]);
    const { model, tokenizer } = await tinySetup();
    for (const [dir, n] of [
      [d1, 1],
      [d2, 2],
    ] as const) {
      const back = await Session.load(dir, { model, tokenizer, data: toyData });
      expect([back.innerSteps, back.outerSteps, back.historyRows().length]).toEqual([n, n, 2 * n]);
      back.dispose();
    }
    model.dispose();
    s.dispose();
  });

  it("a save holds it too: a step started meanwhile is refused, the save completes", async () => {
    const s = await makeSession();
    await s.step();
    const dir = await mkdtemp(join(tmpdir(), "session-lock-"));
    const saving = s.save(dir);
    expect(s.busy).toBe("save()");
    await expect(s.step()).rejects.toThrow(/cannot start step\(\): save\(\) is still running: await it, then try again/);
    await saving;
    expect(s.busy).toBeUndefined();
    const { model, tokenizer } = await tinySetup();
    const back = await Session.load(dir, { model, tokenizer, data: toyData });
    expect(back.innerSteps).toBe(1);
    back.dispose();
    model.dispose();
    s.dispose();
  });

  it("run() options are checked before any work", async () => {
    const s = await makeSession();
    for (const steps of [Number.NaN, -1, 0, 1.5, Number.POSITIVE_INFINITY]) await expect(s.run({ steps })).rejects.toThrow(/run: steps must be an integer ≥ 1/);
    for (const epochs of [0, -1, Number.NaN]) await expect(s.run({ epochs })).rejects.toThrow(/run: epochs must be a number > 0/);
    for (const evalEvery of [0.5, -1]) await expect(s.run({ steps: 1, evalEvery })).rejects.toThrow(/run: evalEvery must be an integer ≥ 0/);
    await expect(s.evaluate("bogus" as "val")).rejects.toThrow(/evaluate: split "bogus"/);
    expect([s.innerSteps, s.outerSteps, s.busy]).toEqual([0, 0, undefined]);
    s.dispose();
  });
});
