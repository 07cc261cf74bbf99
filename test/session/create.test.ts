// Session.create checks every option before any work and takes its defaults from the model
// (maxLength from its positions, target modules from PEFT's mapping); dispose() frees what it
// says; a session and its ranks display as HTML/text in the notebook.

import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../sdk/core/errors.js";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import { attachLoRA } from "../../sdk/methods/lora/index.js";
import { DEFAULT_TARGET_MODULES, defaultTargetModules } from "../../sdk/methods/targets.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { Session } from "../../sdk/session/index.js";
import { MIME_BUNDLE } from "../../sdk/viz/mime.js";
import { makeSession, tinySetup, toyData, toyExamples } from "./helpers.js";

const ROBERTA = "datasets/models/roberta-tiny";
const GPT2 = "datasets/models/gpt2-tiny";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("Session.create checks everything up front", () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["batchSize 2.5", { batchSize: 2.5 }, /batchSize must be an integer ≥ 1, got 2.5/],
    ["unrollSteps 1.5", { unrollSteps: 1.5 }, /unrollSteps must be an integer ≥ 1/],
    ["maxRank 0", { maxRank: 0 }, /maxRank must be an integer ≥ 1/],
    ["maxLength 0", { maxLength: 0 }, /maxLength must be an integer ≥ 1/],
    ["seed NaN", { seed: Number.NaN }, /seed must be an integer ≥ 0, got NaN/],
    ["seed 1.5", { seed: 1.5 }, /seed must be an integer/],
    ["innerLr Infinity", { innerLr: Number.POSITIVE_INFINITY }, /innerLr must be a finite number > 0/],
    ["alpha -1", { alpha: -1 }, /alpha must be a finite number > 0/],
    ["dropout 1", { dropout: 1 }, /dropout must be a number in \[0, 1\)/],
    ["weightDecay -0.1", { weightDecay: -0.1 }, /weightDecay must be a finite number ≥ 0/],
    ["outerBetas [1, 0.9]", { outerBetas: [1, 0.9] }, /outerBetas must be two numbers in \[0, 1\)/],
    ["valFraction 0", { valFraction: 0 }, /valFraction must be a number in \(0, 1\)/],
    ["hypergradient 'newton'", { hypergradient: "newton" }, /hypergradient must be "exact", "darts" or "first-order", got "newton"/],
    ["selection 'max'", { selection: "max" }, /selection must be/],
    ["preset 'fast'", { preset: "fast" }, /unknown preset "fast"/],
    ["targetModules []", { targetModules: [] }, /targetModules must be a list of module names/],
    ["normalizeRanks 'yes'", { normalizeRanks: "yes" }, /normalizeRanks must be true or false/],
  ];
  it("refuses bad options with a ConfigError naming the option; the model stays usable", async () => {
    const { model, tokenizer } = await tinySetup();
    const before = tf.memory().numTensors;
    for (const [what, opts, message] of bad) {
      const err = await Session.create({ model, tokenizer, data: toyData, ...opts }).catch((e) => e);
      expect(err, what).toBeInstanceOf(ConfigError);
      expect(err.message, what).toMatch(message);
    }
    expect(tf.memory().numTensors).toBe(before);
    const s = await Session.create({ model, tokenizer, data: toyData, batchSize: 4 });
    s.dispose();
    model.dispose();
  });

  it("maxLength defaults to the model's room (RoBERTa: positions − pad − 1) and is refused beyond it", async () => {
    const model = await loadPretrained(ROBERTA, { head: "sequence-classification", numLabels: 3 });
    const tokenizer = await loadTokenizer(ROBERTA);
    expect(model.config.max_position_embeddings).toBe(66);
    await expect(Session.create({ model, tokenizer, data: toyData, maxLength: 128 })).rejects.toThrow(
      /maxLength 128 is more than this roberta model has room for \(64 tokens\): use maxLength ≤ 64/,
    );
    await expect(Session.create({ model, tokenizer, data: toyData, maxLength: 65 })).rejects.toThrow(/room for \(64 tokens\)/);
    const s = await Session.create({
      model,
      tokenizer,
      data: { train: toyExamples(8, 4).map((e) => ({ ...e, text: `${e.text} `.repeat(30) })) },
      batchSize: 4,
    });
    expect(s.config.maxLength).toBe(64);
    await s.innerStep(); // long texts are cut to the model's room: the step runs (it threw before)
    s.dispose();
    model.dispose();
    const bert = await tinySetup();
    const b = await makeSession({}, bert);
    expect(b.config.maxLength).toBe(Math.min(128, Number(bert.model.config.max_position_embeddings)));
    b.dispose();
    bert.model.dispose();
  });
});

describe("default target modules (PEFT's mapping) and all-linear", () => {
  it("query/value for BERT and RoBERTa, c_attn for GPT-2 (session and attachLoRA)", async () => {
    expect(DEFAULT_TARGET_MODULES).toMatchObject({ bert: ["query", "value"], roberta: ["query", "value"], gpt2: ["c_attn"] });
    const gpt2 = await loadPretrained(GPT2, { head: "sequence-classification", numLabels: 3 });
    expect(defaultTargetModules(gpt2)).toEqual(["c_attn"]);
    const tokenizer = await loadTokenizer(GPT2);
    const s = await Session.create({ model: gpt2, tokenizer, data: { train: toyExamples(8, 5) }, batchSize: 4, maxLength: 16 });
    const layers = [...s.adapter.layers.keys()];
    expect(layers.length).toBe(Number(gpt2.config.n_layer));
    expect(layers.every((n) => n.endsWith(".attn.c_attn"))).toBe(true);
    expect(s.config.targetModules).toEqual(["c_attn"]);
    await s.step();
    s.dispose();
    const lora = attachLoRA(gpt2);
    expect([...lora.layers.keys()]).toEqual(layers);
    lora.detach();
    gpt2.dispose();
    expect(() => defaultTargetModules({ config: { model_type: "t5" } as never })).toThrow(/no default targetModules for model_type "t5": pass targetModules/);
  });

  it('"all-linear" adapts every linear layer except the head', async () => {
    const { model, tokenizer } = await tinySetup();
    const s = await Session.create({ model, tokenizer, data: toyData, targetModules: "all-linear", batchSize: 4, maxRank: 2 });
    const want = [...model.linears.keys()].filter((n) => !model.headModules.some((h) => n === h || n.startsWith(`${h}.`)));
    expect(want.length).toBeGreaterThan(4);
    expect([...s.adapter.layers.keys()]).toEqual(want);
    expect(want.some((n) => n.endsWith("intermediate.dense"))).toBe(true);
    expect(want.includes("classifier")).toBe(false);
    // a new session on the same model (a notebook cell run again) replaces this one
    await expect(Session.create({ model, tokenizer, data: toyData, targetModules: ["nope"] })).rejects.toThrow(/matches no linear layer/);
    await expect(Session.create({ model, tokenizer, data: toyData, targetModules: "(" })).rejects.toThrow(ConfigError);
    expect(s.alphas()).toHaveLength(want.length); // bad targets did not release it
    const s2 = await Session.create({ model, tokenizer, data: toyData, batchSize: 4 });
    expect(() => s.ranks()).toThrow(/this session was replaced/);
    expect([...s2.adapter.layers.keys()]).toHaveLength(4);
    s2.dispose();
    s.dispose();
    const lora = attachLoRA(model, { targetModules: "ALL-LINEAR" });
    expect([...lora.layers.keys()]).toEqual(want);
    lora.detach();
    model.dispose();
  });
});

describe("dispose()", () => {
  it("frees the session's tensors and gives the model back as it was: load → create → retrain / evaluate (good and bad) → dispose leaks nothing", async () => {
    const cycle = async () => {
      const { model, tokenizer } = await tinySetup();
      const ids = [[2, 40, 50, 60, 3]];
      const first = await model.predict({ inputIds: ids });
      const n = model.params.list().length;
      const s = await Session.create({
        model,
        tokenizer,
        data: { train: toyExamples(16, 6) },
        batchSize: 8,
        innerLr: 1e-2,
        seed: 1,
        hypergradient: "first-order",
      });
      await s.step();
      const r = await s.retrain({ epochs: 1 });
      r.model.dispose();
      // failures on the way leak nothing either
      await expect(s.retrain({ ranks: [{ name: "nope", rank: 1 }] })).rejects.toThrow(/not a target layer/);
      await expect(s.retrain({ epochs: 0 })).rejects.toThrow(ConfigError);
      await expect(s.evaluate("dev")).rejects.toThrow(/the dev split is empty/);
      await expect(s.evaluate("bogus" as "val")).rejects.toThrow(ConfigError);
      await s.evaluate("val");
      s.dispose();
      expect(model.params.list().length).toBe(n); // adapter gone
      expect(await model.predict({ inputIds: ids })).toEqual(first); // head restored
      expect(() => s.ranks()).toThrow(/this session was disposed/);
      model.dispose();
    };
    await cycle();
    const before = tf.memory().numTensors;
    await cycle();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("notebook display", () => {
  it("a session shows an HTML summary with a text fallback; ranks() display as a table and stay plain data", async () => {
    const s = await makeSession();
    await s.run({ steps: 2 });
    const b = s[MIME_BUNDLE]();
    const rows = s.historyRows();
    const lastOuter = rows.filter((r) => r.phase === "outer").at(-1)!.loss;
    expect(b["text/html"]).toContain("AutoLoRA session");
    expect(b["text/html"]).toContain("<table");
    expect(b["text/plain"]).toContain("steps: 2 inner, 2 outer");
    expect(b["text/plain"]).toContain(`last L_val: ${Number(lastOuter.toPrecision(4))}`);
    expect(b["text/plain"]).toContain("backend: cpu");
    expect(b["text/plain"]).toContain("state: idle");
    const ranks = s.ranks();
    expect(b["text/plain"]).toContain(`ranks at λ = ${ranks[0]!.threshold}`);
    for (const r of ranks) expect(b["text/plain"]).toMatch(new RegExp(`${r.name.replace(/\./g, "\\.")}\\s+${r.rank}\\s`));
    // ranks(): a plain array of { name, rank, threshold } that also displays as a table
    expect(Array.isArray(ranks)).toBe(true);
    expect(Object.keys(ranks)).toEqual(ranks.map((_, i) => String(i)));
    expect(JSON.parse(JSON.stringify(ranks))).toEqual(ranks.map((r) => ({ ...r })));
    const rb = (ranks as unknown as { [MIME_BUNDLE]: () => Record<string, string> })[MIME_BUNDLE]();
    expect(rb["text/html"]).toContain(`<td>${ranks[0]!.name}</td><td>${ranks[0]!.rank}</td>`);
    expect(rb["text/plain"].split("\n")).toHaveLength(ranks.length + 1);
    // historyRows(): plain rows, displayed as a table
    const hb = (rows as unknown as { [MIME_BUNDLE]: () => Record<string, string> })[MIME_BUNDLE]();
    expect(hb["text/plain"].split("\n")).toHaveLength(rows.length + 1);
    expect(hb["text/html"]).toContain(`<td>2</td><td>outer</td><td>${Number(lastOuter.toPrecision(4))}</td>`);
    // internals are not on the class
    for (const k of ["snapshotState", "restoreCounters"]) expect(k in s).toBe(false);
    expect("fromParts" in Session).toBe(false);
    s.dispose();
    expect(s[MIME_BUNDLE]()["text/plain"]).toContain("unusable");
  });
});
