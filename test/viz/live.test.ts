// The live view (sdk/viz/live.ts): what the text block and the notebook output say, how often the
// notebook output is redrawn, and that session.run() / retrain() / a nested operation drive it
// through the task register. The kernel is faked: `globalThis.__tslab__` plus a module in Node's
// require cache under tslab's path whose `lastWriteDisplayData` records the messages (the real
// kernel is exercised in test/kernel/kernel.test.ts).

import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { beginTask, interruptAll, taskRegister } from "../../sdk/core/interrupt.js";
import { LiveTracker, liveHtml, liveText, REDRAW_MS, textBar } from "../../sdk/viz/live.js";
import { makeSession } from "../session/helpers.js";

type Msg = { type: "display_data" | "update_display_data"; id: string; html: string; text: string };

const req = createRequire(import.meta.url);
const FAKE = "/fake/node_modules/tslab/dist/jupyter.js";
let sent: Msg[] = [];

function fakeKernel(on: boolean): void {
  const g = globalThis as { __tslab__?: unknown };
  if (on) {
    g.__tslab__ = {};
    const write = (d: { data: Record<string, string>; transient: { display_id?: string } }, update: boolean) =>
      sent.push({
        type: update ? "update_display_data" : "display_data",
        id: String(d.transient.display_id),
        html: d.data["text/html"]!,
        text: d.data["text/plain"]!,
      });
    req.cache[FAKE] = { exports: { lastWriteDisplayData: write } } as never;
  } else {
    delete g.__tslab__;
    delete req.cache[FAKE];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  await tf.setBackend("cpu");
});
beforeEach(() => {
  sent = [];
});
afterEach(() => fakeKernel(false));

describe("the text block", () => {
  it("shows progress, rate, ETA, losses, ranks with λ, and how it ended", () => {
    const t = new LiveTracker("run", 0);
    t.report({
      step: 3,
      total: 12,
      losses: { inner: 0.7, outer: 0.69 },
      ranks: [
        { name: "roberta.encoder.layer.0.attention.self.query", rank: 4, threshold: 0.125 },
        { name: "roberta.encoder.layer.0.attention.self.value", rank: 3, threshold: 0.125 },
      ],
      stepMs: 412,
    });
    const lines = liveText(t.state, 1500); // 3 steps in 1.5 s: 2 steps/s, 9 left: 4.5 s
    expect(lines[0]).toBe(`run() ${textBar(0.25)} 3/12 steps · 2.0 steps/s · ETA 4.5 s · last outer step 412 ms`);
    expect(lines).toContain("  losses  inner L_tr 0.7000  outer L_val 0.6900");
    expect(lines).toContain("  ranks (λ = 0.125)  0·query 4  0·value 3");
    expect(lines[lines.length - 1]).toBe("  running");
    t.end({ status: "paused", reason: "interrupt", message: "the session is consistent" }, 2000);
    expect(liveText(t.state, 9999).at(-1)).toBe("  paused (interrupt) after step 3 of 12 — the session is consistent");
    expect(liveText(t.state, 9999)[0]).toContain("2.0 s in all"); // frozen at the end, not the clock
    expect(textBar(0.5, 4)).toBe("[##..]");
  });

  it("keeps at most 1000 points per loss curve, the last one included", () => {
    const t = new LiveTracker("pretrain");
    for (let i = 1; i <= 2500; i++) t.report({ step: i, total: 2500, losses: { train: 1 / i } });
    const rows = t.state.losses;
    expect(rows.length).toBeLessThanOrEqual(1000);
    expect(rows.length).toBeGreaterThan(400);
    expect(rows.at(-1)).toEqual({ step: 2500, phase: "train", loss: 1 / 2500 });
    expect(rows[0]!.step).toBe(1);
  });

  it("the HTML has the bar at the share done, the end line, the loss chart and the α heatmap", () => {
    const t = new LiveTracker("run", 0);
    t.report({
      step: 1,
      total: 4,
      losses: { inner: 0.5 },
      alphas: [{ name: "bert.encoder.layer.0.attention.self.query", alpha: [0.5, 0.3, 0.2] }],
      ranks: [{ name: "bert.encoder.layer.0.attention.self.query", rank: 2, threshold: 1 / 3 }],
    });
    const html = liveHtml(t.state, { now: 10 });
    expect(html).toContain('data-status="running"');
    expect(html).toContain("width:25.0%");
    expect(html).toContain("Loss so far");
    expect(html).toMatch(/α at step 1 \(λ = 0\.3333/);
    expect(html.match(/class="autolora-plot"/g)?.length).toBe(2);
    expect(html).not.toContain('<script type="text/javascript">/* plotly.js'); // not asked to inline
    expect(liveHtml(t.state, { plotly: "lite" })).toContain("/* plotly.js");
  });
});

describe("the notebook output", () => {
  it("is one display_data, then updates at most every 250 ms, then a final update; nothing outside a kernel", async () => {
    fakeKernel(true);
    const task = beginTask("run");
    for (let i = 1; i <= 20; i++) task.report({ step: i, total: 100 }); // in one burst: no redraw
    expect(sent.map((m) => m.type)).toEqual(["display_data"]);
    await sleep(REDRAW_MS + 30);
    task.report({ step: 21, total: 100 });
    task.report({ step: 22, total: 100 });
    expect(sent.map((m) => m.type)).toEqual(["display_data", "update_display_data"]);
    expect(sent[1]!.text).toContain("21/100 steps");
    task.end({ status: "done", message: "ok" });
    expect(sent.length).toBe(3);
    expect(new Set(sent.map((m) => m.id)).size).toBe(1);
    expect(sent[2]!.text).toContain("22/100 steps");
    expect(sent[2]!.text).toContain("finished: ok");
    fakeKernel(false);
    const t2 = beginTask("run");
    t2.report({ step: 1, total: 2 });
    t2.end();
    expect(sent.length).toBe(3);
  });

  it("live: false sends nothing; a nested task draws inside its parent's view", () => {
    fakeKernel(true);
    const quiet = beginTask("run", { live: false });
    quiet.report({ step: 1, total: 2 });
    quiet.end();
    expect(sent).toEqual([]);
    const parent = beginTask("compare");
    const child = beginTask("retrain");
    expect(child.parent).toBe(parent);
    child.report({ step: 5, total: 9, losses: { train: 0.25 } });
    expect(sent.length).toBe(1); // the child opened no output of its own
    child.end();
    parent.report({ step: 1, total: 2, unit: "run", label: "lora seed 0 done" });
    parent.end();
    expect(sent.at(-1)!.text).toContain("1/2 runs");
    expect(sent.at(-1)!.text).toContain("lora seed 0 done");
    expect(new Set(sent.map((m) => m.id)).size).toBe(1);
    expect(taskRegister().tasks.size).toBe(0);
  });

  it("a watcher that throws does not break the operation", () => {
    const stop = taskRegister().watch({
      report() {
        throw new Error("broken view");
      },
    });
    const t = beginTask("run");
    expect(() => t.report({ step: 1, total: 1 })).not.toThrow();
    t.end();
    stop();
  });
});

describe("session.run() drives it", () => {
  it("run({ steps: 3 }): a display with updates showing losses, α and ranks, and 'finished'; no tensors kept", async () => {
    const s = await makeSession();
    await s.run({ steps: 1, live: false }); // the optimisers' moments exist from here on
    fakeKernel(true);
    const before = tf.memory().numTensors;
    await s.run({ steps: 3, onStep: () => sleep(REDRAW_MS + 10) });
    expect(tf.memory().numTensors).toBe(before);
    expect(sent[0]!.type).toBe("display_data");
    expect(sent.filter((m) => m.type === "update_display_data").length).toBeGreaterThanOrEqual(2);
    const last = sent.at(-1)!;
    expect(last.text).toMatch(/^run\(\) \[#{24}\] 3\/3 steps/);
    expect(last.html).toContain('data-status="done"');
    expect(last.text).toMatch(/losses {2}inner L_tr \d\.\d{4} {2}outer L_val \d\.\d{4}/);
    const ranks = s.ranks();
    expect(last.text).toContain(`ranks (λ = ${Number(ranks[0]!.threshold!.toPrecision(4))})`);
    expect(last.html).toContain('data-status="done"');
    expect(last.html).toContain("α at step 4"); // the session's step (one run before), not the run's
    s.dispose();
  });

  it("an interrupt: the last update says paused, and why; live: false sends nothing", async () => {
    const s = await makeSession();
    fakeKernel(true);
    const r = await s.run({ steps: 40, onStep: ({ step }) => step === 1 && setTimeout(() => interruptAll(), 0) });
    expect(r.aborted).toBe(true);
    const last = sent.at(-1)!;
    expect(last.type).toBe("update_display_data");
    expect(last.text).toContain(`paused (interrupt) after step ${r.steps} of 40`);
    expect(last.html).toContain('data-status="paused"');
    const n = sent.length;
    await s.run({ steps: 1, live: false });
    expect(sent.length).toBe(n);
    s.dispose();
  });
});
