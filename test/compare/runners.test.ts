// Runner registration (issue 18, item 2): every runner compare knows is its method folder's own
// (sdk/methods/<method>/runner.ts; AutoLoRA's in sdk/compare/autolora.ts, as it needs the Session),
// registered through registerRunner; compare.ts defines none; a runner registered from outside runs.
import { readFileSync } from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { AUTOLORA_RUNNERS } from "../../sdk/compare/autolora.js";
import { compare, RUNNERS, registerRunner, runnerFor, toMarkdown } from "../../sdk/compare/compare.js";
import type { Task } from "../../sdk/data/types.js";
import * as adalora from "../../sdk/methods/adalora/runner.js";
import * as adapter from "../../sdk/methods/adapter/runner.js";
import * as dylora from "../../sdk/methods/dylora/runner.js";
import * as full from "../../sdk/methods/full/runner.js";
import * as lora from "../../sdk/methods/lora/runner.js";
import type { MethodRunner } from "../../sdk/methods/runner.js";
import { Session } from "../../sdk/session/index.js";
import { TINY, toyExamples } from "../session/helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** A 3-class toy task (test/session/helpers.ts' examples) with `train` and `dev` examples. */
const toyTask = (train: number, dev: number) =>
  ({
    name: "toy",
    head: "sequence-classification",
    numLabels: 3,
    metrics: ["accuracy"],
    labels: null,
    splits: { train: toyExamples(train, 1), dev: toyExamples(dev, 2) },
  }) as unknown as Task;

describe("compare's runners", () => {
  it("each is exported by its method folder (AutoLoRA's by sdk/compare/autolora.ts), and each is registered", () => {
    const owners: [string, readonly MethodRunner[]][] = [
      ["sdk/methods/lora/runner.ts", Object.values(lora)],
      ["sdk/methods/dylora/runner.ts", Object.values(dylora)],
      ["sdk/methods/adalora/runner.ts", Object.values(adalora)],
      ["sdk/methods/adapter/runner.ts", Object.values(adapter)],
      ["sdk/methods/full/runner.ts", Object.values(full)],
      ["sdk/compare/autolora.ts", AUTOLORA_RUNNERS],
    ];
    for (const [name, r] of RUNNERS) {
      expect(r.name).toBe(name);
      const owner = owners.find(([, rs]) => rs.includes(r));
      expect(owner, `${name} comes from no method folder`).toBeDefined();
      if (!name.startsWith("autolora")) expect(owner![0]).toBe(`sdk/methods/${name.split("-")[0]}/runner.ts`);
    }
    // …and every folder's runner is registered (the order is the CLI's list: test/cli/cli.test.ts).
    for (const [file, rs] of owners) for (const r of rs) expect(RUNNERS.get(r.name), `${file}: ${r.name}`).toBe(r);
    // compare.ts registers runners; it defines none.
    const src = readFileSync("sdk/compare/compare.ts", "utf8");
    expect(src).not.toMatch(/:\s*MethodRunner\s*=\s*\{|async run\(/);
    expect(src).toMatch(/registerRunner\(r\)/);
  });

  it("a runner registered with registerRunner is run by compare", async () => {
    const seen: number[] = [];
    registerRunner({
      name: "constant",
      description: "a test runner",
      async run(ctx) {
        seen.push(ctx.seed);
        return { method: "constant", seed: ctx.seed, metric: 0.5 + ctx.seed / 10, metricName: "accuracy", trainableParams: 1, ms: 1 };
      },
    });
    try {
      const task = toyTask(8, 4);
      const out = await compare({ modelDir: TINY, task, methods: ["constant"], seeds: 2, firstSeed: 3, live: false });
      expect(seen).toEqual([3, 4]);
      expect(out.summaries.map((s) => [s.method, s.description])).toEqual([["constant", "a test runner"]]);
      expect(out.summaries[0]!.mean).toBeCloseTo(0.85, 12);
    } finally {
      RUNNERS.delete("constant");
    }
  });

  it("<method>@<rank> runs that method with its own rank, paired with the others seed by seed", async () => {
    const seen: string[] = [];
    registerRunner({
      name: "ranked",
      description: "a rank-reporting test runner",
      async run(ctx) {
        seen.push(`${ctx.seed}:${ctx.rank}`);
        return { method: "ranked", seed: ctx.seed, metric: ctx.rank / 10 + ctx.seed / 100, metricName: "accuracy", trainableParams: ctx.rank, ms: 1 };
      },
    });
    try {
      const task = toyTask(8, 4);
      const out = await compare({ modelDir: TINY, task, methods: ["ranked@2", "ranked@5", "ranked"], seeds: 2, rank: 8, baseline: "ranked@2", live: false });
      expect(seen).toEqual(["0:2", "1:2", "0:5", "1:5", "0:8", "1:8"]);
      expect(out.summaries.map((x) => [x.method, x.description, x.trainableParams])).toEqual([
        ["ranked@2", "a rank-reporting test runner (rank 2)", 2],
        ["ranked@5", "a rank-reporting test runner (rank 5)", 5],
        ["ranked", "a rank-reporting test runner", 8],
      ]);
      // paired on the same seeds: each difference is exactly (rank − 2) / 10 on both seeds
      expect(out.paired.map((d) => [d.method, Number(d.mean.toFixed(12)), d.wins])).toEqual([
        ["ranked@5", 0.3, 2],
        ["ranked", 0.6, 2],
      ]);
    } finally {
      RUNNERS.delete("ranked");
    }
    expect(runnerFor("lora@4")!.description).toMatch(/\(rank 4\)$/);
    for (const bad of ["lora@0", "lora@1.5", "full@2", "nope@3", "lora@"]) expect(runnerFor(bad), bad).toBeUndefined();
    await expect(compare({ modelDir: TINY, task: {} as Task, methods: ["full@2"], seeds: 1, live: false })).rejects.toThrow(/<method>@<rank>/);
  });

  it("autolora-authors searches with preset authors-code and the comparison's common budget, then retrains its ranks", async () => {
    const create = vi.spyOn(Session, "create");
    try {
      const before = tf.memory().numTensors;
      const out = await compare({
        modelDir: TINY,
        task: toyTask(16, 4),
        methods: ["autolora-authors"],
        seeds: 1,
        epochs: 1,
        batchSize: 4,
        rank: 4,
        lr: 2e-3,
        live: false,
      });
      expect(create).toHaveBeenCalledTimes(1);
      const opts = create.mock.calls[0]![0] as unknown as Record<string, unknown>;
      expect(opts).toMatchObject({ preset: "authors-code", innerLr: 2e-3, outerLr: 1e-2, batchSize: 4, maxRank: 4, alpha: 4 });
      const run = out.summaries[0]!.runs[0]!;
      expect(run.ranks!.length).toBeGreaterThan(0);
      for (const l of run.ranks!) expect(l.rank).toBeGreaterThanOrEqual(0);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      create.mockRestore();
    }
  });

  it("curve: every method's dev metric after every epoch, the last one the run's own metric, averaged per epoch in the summary", async () => {
    const task = toyTask(8, 4);
    const methods = ["lora@2", "dylora", "adalora", "autolora"];
    const out = await compare({ modelDir: TINY, task, methods, seeds: 2, epochs: 3, batchSize: 4, curve: true, live: false });
    for (const m of methods) {
      const s = out.summaries.find((x) => x.method === m)!;
      for (const run of s.runs) {
        expect(run.curve, m).toHaveLength(3);
        expect(run.curve!.at(-1), m).toBe(run.metric); // evaluated after the last epoch: the same model (AutoLoRA: its retraining)
      }
      expect(s.curve!.map((c) => c.epoch)).toEqual([1, 2, 3]);
      expect(s.curve![1]!.mean).toBeCloseTo((s.runs[0]!.curve![1]! + s.runs[1]!.curve![1]!) / 2, 12);
    }
    const md = toMarkdown(out);
    expect(md).toMatch(/after each epoch/);
    for (const m of methods) expect(md).toMatch(new RegExp(`\\| ${m} \\|( [\\d.]+ ± [\\d.]+ \\|){3}`));
    // Evaluating along the way changes nothing: the same final metrics without the curve.
    const plain = await compare({ modelDir: TINY, task, methods, seeds: 1, epochs: 3, batchSize: 4, live: false });
    for (const m of methods)
      expect(plain.summaries.find((x) => x.method === m)!.runs[0]!.metric, m).toBe(out.summaries.find((x) => x.method === m)!.runs[0]!.metric);
  });
});
