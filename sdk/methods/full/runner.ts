/**
 * Full fine-tuning's runner for `compare`.
 * @module
 */
import { type MethodRunner, trainAndEvaluate, withFreshModel } from "../runner.js";
import { fullFineTune } from "./model.js";

/** Full fine-tuning (lr / 10, as is usual for full fine-tuning vs adapters). */
export const fullRunner: MethodRunner = {
  name: "full",
  description: "full fine-tuning (every parameter, lr/10)",
  async run(ctx) {
    return withFreshModel(ctx, async (model) => {
      fullFineTune(model);
      return await trainAndEvaluate("full", model, { ...ctx, lr: ctx.lr / 10 });
    });
  },
};
