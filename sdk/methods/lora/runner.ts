/**
 * LoRA's runners for `compare`: a uniform rank r, and the rank chosen by grid search (the
 * paper's cost baseline).
 * @module
 */
import { Rng } from "../../core/rng.js";
import { type MethodRunner, type RunContext, trainAndEvaluate, uniformRanks, withFreshModel } from "../runner.js";
import { attachLoRA } from "./model.js";

/** LoRA at a uniform rank. */
export const loraRunner: MethodRunner = {
  name: "lora",
  description: "LoRA, uniform rank r",
  async run(ctx) {
    return withFreshModel(ctx, async (model) => {
      const h = attachLoRA(model, { r: ctx.rank, alpha: ctx.rank, seed: ctx.seed, ...(ctx.targetModules ? { targetModules: ctx.targetModules } : {}) });
      return await trainAndEvaluate("lora", model, ctx, { ranks: uniformRanks(h.layers.keys(), ctx.rank) });
    });
  },
};

/**
 * LoRA with its rank chosen by grid search (the paper's cost baseline): one LoRA per rank in
 * {1, 2, 4, …, r} trained on 70% of the training set and scored on the other 30%; the best is
 * reported on dev. The cost is the sum of all trainings.
 */
export const loraGridRunner: MethodRunner = {
  name: "lora-grid",
  description: "LoRA, rank chosen by grid search over {1, 2, 4, …, r} (cost = all runs)",
  async run(ctx) {
    const t0 = performance.now();
    const grid: number[] = [];
    for (let r = 1; r <= ctx.rank; r *= 2) grid.push(r);
    const order = new Rng(ctx.seed).shuffle([...ctx.task.train.keys()]);
    const cut = Math.round(order.length * 0.7);
    const inner: RunContext = {
      ...ctx,
      task: { ...ctx.task, train: order.slice(0, cut).map((i) => ctx.task.train[i]!), dev: order.slice(cut).map((i) => ctx.task.train[i]!) },
    };
    let best = { r: grid[0]!, val: Number.NEGATIVE_INFINITY };
    const targets = ctx.targetModules ? { targetModules: ctx.targetModules } : {};
    // Shares of the run by the data each training sees (70% per grid point, 100% for the last).
    const weight = grid.length * 0.7 + 1;
    for (const [i, r] of grid.entries()) {
      const res = await withFreshModel(ctx, async (model) => {
        attachLoRA(model, { r, alpha: r, seed: ctx.seed, ...targets });
        return trainAndEvaluate(`lora-grid r=${r}`, model, { ...inner, rank: r }, {}, [(i * 0.7) / weight, ((i + 1) * 0.7) / weight]);
      });
      if (res.metric > best.val) best = { r, val: res.metric };
    }
    return withFreshModel(ctx, async (model) => {
      const h = attachLoRA(model, { r: best.r, alpha: best.r, seed: ctx.seed, ...targets });
      const res = await trainAndEvaluate("lora-grid", model, ctx, { extra: { chosenRank: best.r }, ranks: uniformRanks(h.layers.keys(), best.r) }, [
        (grid.length * 0.7) / weight,
        1,
      ]);
      return { ...res, ms: performance.now() - t0 };
    });
  },
};
