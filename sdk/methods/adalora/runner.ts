/**
 * AdaLoRA's runner for `compare`.
 * @module
 */
import { Rng } from "../../core/rng.js";
import { checkInterrupted, epochBatches, epochEvaluation, type MethodRunner, resultOf, stepProgress, withFreshModel } from "../runner.js";
import { attachAdaLoRA, trainAdaLoRA } from "./model.js";

/** AdaLoRA from initR = 1.5·r down to targetR = r (PEFT's schedule, tinit/tfinal 10% of steps). */
export const adaloraRunner: MethodRunner = {
  name: "adalora",
  description: "AdaLoRA, budget 1.5r → r per layer on average (PEFT schedule)",
  async run(ctx) {
    const t0 = performance.now();
    return withFreshModel(ctx, async (model) => {
      const rng = new Rng(ctx.seed);
      const batches = epochBatches(ctx, rng);
      const totalStep = Math.max(1, ctx.epochs * Math.ceil(ctx.task.train.length / ctx.batchSize));
      const tinit = Math.floor(totalStep * 0.1);
      const tfinal = Math.floor(totalStep * 0.1);
      const h = attachAdaLoRA(model, {
        initR: Math.round(1.5 * ctx.rank),
        targetR: ctx.rank,
        alpha: ctx.rank,
        totalStep,
        tinit,
        tfinal,
        deltaT: 1,
        seed: ctx.seed,
        ...(ctx.targetModules ? { targetModules: ctx.targetModules } : {}),
      });
      // The allocator's importance averages are the handle's, not the model's: detach frees them
      // (a run whose schedule ends before its final allocation step would otherwise keep them).
      try {
        // PEFT's AdaLoRA recipe: no warm-up, its own step count (not the shared baselineTraining).
        const curve = epochEvaluation(ctx);
        const res = await trainAdaLoRA(model, h, {
          batches,
          rng,
          ...curve.trainOptions(model),
          optimizer: { lr: ctx.lr, weightDecay: 0 },
          signal: ctx.signal,
          onProgress: stepProgress("adalora", ctx),
        });
        checkInterrupted(ctx, "adalora");
        return curve.finish(
          { ...(await resultOf("adalora", model, ctx, t0)), ranks: Object.entries(res.ranks).map(([name, rank]) => ({ name, rank })) },
          res.evals,
        );
      } finally {
        h.detach();
      }
    });
  },
};
