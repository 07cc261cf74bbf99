/**
 * The Houlsby adapters' runner for `compare`.
 * @module
 */
import { type MethodRunner, trainAndEvaluate, withFreshModel } from "../runner.js";
import { attachAdapters } from "./model.js";

/** Houlsby adapters (bottleneck 2r so the parameter budget is comparable). */
export const adapterRunner: MethodRunner = {
  name: "adapter",
  description: "Houlsby adapters after attention and feed-forward (bottleneck 2r)",
  async run(ctx) {
    return withFreshModel(ctx, async (model) => {
      attachAdapters(model, { bottleneck: 2 * ctx.rank, seed: ctx.seed }); // the architecture's default targets
      return await trainAndEvaluate("adapter", model, ctx);
    });
  },
};
