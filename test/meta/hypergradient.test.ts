// Hypergradients of AutoLoRA's bilevel problem, checked three independent ways:
// 1. against PyTorch (float64 autograd through the one-step update, scripts/gpu/make_fixtures.py),
// 2. `exact` against central finite differences of β ↦ L_val(W − η∇_W L_tr(W, β), β),
// 3. `darts` against `exact` (cosine), `first-order` against ∇_β L_val(W, β) from PyTorch.

import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { type BilevelProblem, type HypergradientKind, hypergradient } from "../../sdk/meta/index.js";
import type { Selection } from "../../sdk/methods/autolora/index.js";
import { tinyBilevel } from "../helpers/bilevel.js";

const _FX = "datasets/fixtures/hf";
async function setup(selection: Selection) {
  const t = await tinyBilevel(selection);
  expect(t.problem.innerNames.sort()).toEqual(t.fixtureNames.filter((n) => !n.endsWith("lora_beta")).sort());
  return t;
}

const flat = (names: string[], m: Map<string, tf.Tensor> | Record<string, number[]>) =>
  names.flatMap((n) => (m instanceof Map ? Array.from(m.get(n)!.dataSync()) : m[n]!));
const norm = (a: number[]) => Math.sqrt(a.reduce((s, x) => s + x * x, 0));
const relErr = (a: number[], b: number[]) => norm(a.map((x, i) => x - b[i]!)) / norm(b);
const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0) / (norm(a) * norm(b));

function estimate(kind: HypergradientKind, p: BilevelProblem, eta: number): number[] {
  const { grads } = hypergradient(kind, p, { eta });
  const out = flat(p.outerNames, grads);
  tf.dispose([...grads.values()]);
  return out;
}

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe.each(["softmax", "sigmoid"] as const)("hypergradients (%s)", (selection) => {
  it("exact matches PyTorch's float64 hypergradient to 1e-4 relative", async () => {
    const { problem, ref, dispose } = await setup(selection);
    const ours = estimate("exact", problem, ref.eta);
    const err = relErr(ours, flat(problem.outerNames, ref.exact));
    console.log(`[${selection}] exact vs PyTorch: relative error ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
    dispose();
  });

  it("darts matches PyTorch's darts and agrees with exact (cosine > 0.99)", async () => {
    const { problem, ref, dispose } = await setup(selection);
    const darts = estimate("darts", problem, ref.eta);
    const exact = estimate("exact", problem, ref.eta);
    const cos = cosine(darts, exact);
    const err = relErr(darts, flat(problem.outerNames, ref.darts));
    console.log(`[${selection}] darts vs exact: cosine ${cos.toFixed(6)}; darts vs PyTorch darts: relative error ${err.toExponential(2)}`);
    expect(cos).toBeGreaterThan(0.99);
    expect(err).toBeLessThan(1e-3);
    dispose();
  });

  it("first-order equals ∇_β L_val(W, β) (PyTorch) and exact with η = 0", async () => {
    const { problem, ref, dispose } = await setup(selection);
    const fo = estimate("first-order", problem, ref.eta);
    const err = relErr(fo, flat(problem.outerNames, ref.first_order));
    console.log(`[${selection}] first-order vs PyTorch: relative error ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
    expect(relErr(estimate("exact", problem, 0), fo)).toBeLessThan(1e-5);
    dispose();
  });

  it("exact matches central finite differences of β ↦ L_val(W − η∇_W L_tr, β)", async () => {
    const { model, problem, ref, dispose } = await setup(selection);
    // f(β) evaluated in float32: one inner gradient, the virtual step, the validation loss.
    const W = problem.innerNames.map((n) => model.params.get(n));
    const f = (betas: Map<string, tf.Tensor>) =>
      tf.tidy(() =>
        model.params.withOverrides(betas, () => {
          const g = tf.grads((...w: tf.Tensor[]) =>
            model.params.withOverrides(new Map(problem.innerNames.map((n, i) => [n, w[i]!])), () => problem.trainLoss()),
          )(W);
          const W1 = new Map(problem.innerNames.map((n, i) => [n, W[i]!.sub(g[i]!.mul(ref.eta))]));
          return model.params.withOverrides(W1, () => problem.valLoss()).dataSync()[0]!;
        }),
      );
    // Step h = 1e-2: the loss is O(1) with float32 round-off ~1e-7, so the quotient's noise is
    // ~1e-5 per entry while the O(h²) truncation error stays below that for these smooth losses.
    const h = 1e-2;
    const fd: number[] = [];
    for (const name of problem.outerNames) {
      const beta = Array.from(model.params.get(name).dataSync());
      for (let j = 0; j < beta.length; j++) {
        const at = (d: number) => {
          const b = beta.slice();
          b[j]! += d;
          const t = tf.tensor1d(b);
          const v = f(new Map([[name, t]]));
          t.dispose();
          return v;
        };
        fd.push((at(h) - at(-h)) / (2 * h));
      }
    }
    const exact = estimate("exact", problem, ref.eta);
    const err = relErr(exact, fd);
    console.log(`[${selection}] exact vs central differences (h = 1e-2, float32): relative error ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-2);
    dispose();
  });

  it("leaks no tensors", async () => {
    const { problem, ref, dispose } = await setup(selection);
    estimate("darts", problem, ref.eta);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) for (const k of ["exact", "darts", "first-order"] as const) estimate(k, problem, ref.eta);
    expect(tf.memory().numTensors).toBe(before);
    dispose();
  });
});
