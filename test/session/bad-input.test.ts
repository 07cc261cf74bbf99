// The Session's bad-input corpus (issue 14): every entry point refuses each mistake with an
// AutoLoraError subclass whose message names the option, before any work; a refused call leaves
// the session exactly as it was (weights, β, optimiser moments, counters, generator, history) and
// keeps no tensor. The loaders' corpus of bad files is test/fixtures/bad/ (test/models/untrusted.test.ts).

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AutoLoraError, CheckpointError, ConfigError, DataError, UnknownNameError } from "../../sdk/core/errors.js";
import { Session } from "../../sdk/session/index.js";
import { fingerprintState, makeSession, tinySetup, toyData } from "./helpers.js";

type ErrorClass = new (...a: never[]) => AutoLoraError;
const tmp = mkdtempSync(join(tmpdir(), "bad-input-"));
writeFileSync(join(tmp, "afile"), "x");

let setup: Awaited<ReturnType<typeof tinySetup>>;
beforeAll(async () => {
  await tf.setBackend("cpu");
  setup = await tinySetup();
});
afterAll(() => setup.model.dispose());

/** Session.create with one bad option: [what, options, error class, message]. */
const CREATE: [string, Record<string, unknown>, ErrorClass, RegExp][] = [
  ["maxRank 0", { maxRank: 0 }, ConfigError, /maxRank/],
  ["maxRank 2.5", { maxRank: 2.5 }, ConfigError, /maxRank/],
  ["maxRank '8'", { maxRank: "8" }, ConfigError, /maxRank/],
  ["innerLr 0", { innerLr: 0 }, ConfigError, /innerLr/],
  ["innerLr NaN", { innerLr: Number.NaN }, ConfigError, /innerLr/],
  ["outerLr Infinity", { outerLr: Number.POSITIVE_INFINITY }, ConfigError, /outerLr/],
  ["outerLr -1", { outerLr: -1 }, ConfigError, /outerLr/],
  ["selection 'relu'", { selection: "relu" }, ConfigError, /selection/],
  ["hypergradient 'second'", { hypergradient: "second" }, ConfigError, /hypergradient/],
  ["batchSize 0", { batchSize: 0 }, ConfigError, /batchSize/],
  ["maxLength beyond the model", { maxLength: 100_000 }, ConfigError, /maxLength|room for/],
  ["unrollSteps 0", { unrollSteps: 0 }, ConfigError, /unrollSteps/],
  ["preset 'fast'", { preset: "fast" }, ConfigError, /preset/],
  ["seed -1", { seed: -1 }, ConfigError, /seed/],
  ["targetModules matching nothing", { targetModules: ["no_such_layer"] }, UnknownNameError, /no_such_layer/],
  // a pattern that matches nothing is also a ConfigError (issue 14: PEFT's contract), naming the pattern
  ["a targetModules regex matching nothing", { targetModules: ".*\\.nope$" }, ConfigError, /\.nope/],
  ["data.train empty", { data: { train: [] } }, DataError, /train/],
  [
    "a label outside the head",
    { data: { train: [...toyData.train.slice(0, 8), { text: "x", label: 7 }] } },
    DataError,
    /data\.train: example 8 .*label 7, outside 0\.\.2/,
  ],
  [
    "a text label on a classification head",
    { data: { train: toyData.train.slice(0, 8), dev: [{ text: "x", label: "pos" }] } },
    DataError,
    /data\.dev: example 0 .*label "pos"/,
  ],
];

describe("Session.create refuses bad options before any work", () => {
  it.each(CREATE)("%s", async (_what, opts, cls, message) => {
    const before = tf.memory().numTensors;
    const err = await makeSession(opts as never, setup).then(
      (s) => {
        s.dispose();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(cls);
    expect((err as Error).message).toMatch(message);
    expect(tf.memory().numTensors).toBe(before);
    expect(setup.model.params.list((p) => p.role === "adapter" || p.role === "selection")).toEqual([]); // the model got no adapter
  });
});

describe("a live session refuses bad calls and stays as it was", () => {
  it("run, ranks, retrain, evaluate, setLearningRates, save and load: an AutoLoraError naming the option, nothing changed", async () => {
    const s = await makeSession({}, setup);
    await s.step(); // moments exist: a refused call must not touch them
    const state = await fingerprintState(s);
    const tensors = tf.memory().numTensors;
    const layer = s.ranks()[0]!.name;
    const calls: [string, () => unknown, ErrorClass, RegExp][] = [
      ["run steps 0", () => s.run({ steps: 0 }), ConfigError, /steps/],
      ["run steps NaN", () => s.run({ steps: Number.NaN }), ConfigError, /steps/],
      ["run steps '3'", () => s.run({ steps: "3" as never }), ConfigError, /steps/],
      ["run epochs -1", () => s.run({ epochs: -1 }), ConfigError, /epochs/],
      ["run evalEvery 1.5", () => s.run({ evalEvery: 1.5 }), ConfigError, /evalEvery/],
      ["run onStep not a function", () => s.run({ onStep: 3 as never }), ConfigError, /onStep/],
      ["ranks threshold 5", () => s.ranks({ threshold: 5 }), ConfigError, /threshold|λ/],
      ["ranks threshold 'abc'", () => s.ranks({ threshold: "abc" as never }), ConfigError, /threshold|λ/],
      ["retrain an unknown layer", () => s.retrain({ ranks: [{ name: "no.such.layer", rank: 2 }] }), UnknownNameError, /no\.such\.layer/],
      ["retrain rank above k", () => s.retrain({ ranks: [{ name: layer, rank: 99 }] }), ConfigError, /rank 99/],
      ["retrain every rank 0", () => s.retrain({ ranks: [{ name: layer, rank: 0 }] }), ConfigError, /every rank is 0/],
      ["retrain epochs 0", () => s.retrain({ epochs: 0 }), ConfigError, /epochs/],
      ["retrain lr -1", () => s.retrain({ lr: -1 }), ConfigError, /lr/],
      ["retrain warmupRatio 1", () => s.retrain({ warmupRatio: 1 }), ConfigError, /warmupRatio/],
      ["retrain seed 1.5", () => s.retrain({ seed: 1.5 }), ConfigError, /seed/],
      ["retrain examples []", () => s.retrain({ examples: [] }), ConfigError, /examples/],
      ["evaluate an unknown split", () => s.evaluate("test" as never), ConfigError, /test/],
      ["setLearningRates innerLr 0", () => s.setLearningRates({ innerLr: 0 }), ConfigError, /innerLr/],
      ["save under a file", () => s.save(join(tmp, "afile", "ckpt")), AutoLoraError, /afile/],
      [
        "load a folder that is not a checkpoint",
        () => Session.load(tmp, { model: setup.model, tokenizer: setup.tokenizer, data: toyData }),
        CheckpointError,
        /session\.json|checkpoint/,
      ],
    ];
    const failures: string[] = [];
    for (const [what, call, cls, message] of calls) {
      let err: unknown;
      try {
        await call();
      } catch (e) {
        err = e;
      }
      if (!(err instanceof cls))
        failures.push(`${what}: threw ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}, not a ${cls.name}`);
      else if (!message.test(err.message)) failures.push(`${what}: "${err.message}" does not match ${message}`);
    }
    expect(failures).toEqual([]);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(await fingerprintState(s)).toEqual(state);
    s.dispose();
  }, 60_000);
});
