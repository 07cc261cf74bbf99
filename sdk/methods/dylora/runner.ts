/**
 * DyLoRA's runner for `compare`.
 * @module
 */
import { Rng } from "../../core/rng.js";
import {
  baselineTraining,
  checkInterrupted,
  devMetric,
  epochEvaluation,
  type MethodRunner,
  resultOf,
  stepProgress,
  uniformRanks,
  withFreshModel,
} from "../runner.js";
import { attachDyLoRA, evaluateRanks, trainDyLoRA } from "./model.js";

/** DyLoRA trained with a rank sampled per step; reported at rMax, with the best rank in `extra`. */
export const dyloraRunner: MethodRunner = {
  name: "dylora",
  description: "DyLoRA, b ~ U{1..r} per step; evaluated at r (best rank in JSON)",
  async run(ctx) {
    const t0 = performance.now();
    return withFreshModel(ctx, async (model) => {
      const h = attachDyLoRA(model, { rMax: ctx.rank, alpha: ctx.rank, seed: ctx.seed, ...(ctx.targetModules ? { targetModules: ctx.targetModules } : {}) });
      // The curve is evaluated at rMax (trainDyLoRA's evaluate runs there), the rank reported.
      const curve = epochEvaluation(ctx);
      const r = await trainDyLoRA(model, h, {
        ...baselineTraining(ctx, new Rng(ctx.seed)),
        ...curve.trainOptions(model),
        onProgress: stepProgress("dylora", ctx),
      });
      checkInterrupted(ctx, "dylora");
      const scores = await evaluateRanks(model, h, async () => (await devMetric(model, ctx)).metric);
      h.setRank(ctx.rank);
      const best = scores.reduce((a, b) => (b.score > a.score ? b : a));
      return curve.finish(
        {
          ...(await resultOf("dylora", model, ctx, t0)),
          ranks: uniformRanks(h.layers.keys(), ctx.rank),
          extra: { bestRank: best.rank, bestRankMetric: best.score },
        },
        r.evals,
      );
    });
  },
};
