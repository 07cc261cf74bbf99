/**
 * AutoLoRA's runners for `compare`: search with a {@link Session}, then retrain with the ranks
 * found. They live here, not in sdk/methods/autolora/, because the Session sits above sdk/methods
 * (docs/ARCHITECTURE.md, "Method contract"); every other method's runner is in its folder.
 * @module
 */
import { BASELINE_WARMUP, checkInterrupted, epochEvaluation, type MethodRunner, mainMetric, RunInterrupted, withFreshModel } from "../methods/runner.js";
import { Session } from "../session/index.js";

/**
 * AutoLoRA (search with the given options, then retrain with the ranks found); cost = both.
 * The budget knobs (inner lr, outer lr 1e-2, batch size, alpha = r, the retraining recipe) are
 * the comparison's own for every AutoLoRA row, so with `preset: "authors-code"` the row differs
 * from `autolora` only by the algorithm points of that preset (Betty's look-ahead and DARTS, the
 * frozen head, dropout on, drop-last, the 70/30 split, outer betas (0.5, 0.999), ranks on β / Σβ;
 * docs/DESIGN.md lists them), not by a different learning rate or number of epochs.
 */
export function autoloraRunner(
  name: string,
  description: string,
  opts: { selection?: "softmax" | "sigmoid" | "unconstrained"; hypergradient?: "darts" | "exact" | "first-order"; preset?: "paper" | "authors-code" } = {},
): MethodRunner {
  return {
    name,
    description,
    async run(ctx) {
      const t0 = performance.now();
      return withFreshModel(ctx, async (model) => {
        const session = await Session.create({
          model,
          tokenizer: ctx.tokenizer,
          data: { train: ctx.task.train, dev: ctx.task.dev, metrics: ctx.task.metrics, labels: ctx.task.labels ?? undefined },
          ...(ctx.targetModules ? { targetModules: ctx.targetModules } : {}),
          maxRank: ctx.rank,
          alpha: ctx.rank,
          innerLr: ctx.lr,
          outerLr: 1e-2,
          batchSize: ctx.batchSize,
          maxLength: ctx.maxLength,
          seed: ctx.seed,
          ...opts,
        });
        try {
          // Search budget: the same number of epochs over D_tr as the others train for. A meta-step
          // costs about three training steps and sees half the data: about 60% of the run.
          const run = await session.run({
            epochs: ctx.epochs,
            signal: ctx.signal,
            onStep: ({ step, total }) => ctx.onProgress?.({ note: `${name} search ${step}/${total}`, fraction: (0.6 * step) / Math.max(1, total) }),
          });
          if (run.aborted) throw new RunInterrupted(name);
          checkInterrupted(ctx, name);
          const ranks = session.ranks();
          const curve = epochEvaluation(ctx);
          // Common random numbers: the retraining sees the examples in LoRA's order, with LoRA's
          // adapter init (where a layer's rank equals r) and dropout draws: seeded like loraRunner.
          const r = await session.retrain({
            ranks,
            examples: ctx.task.train,
            seed: ctx.seed,
            epochs: ctx.epochs,
            lr: ctx.lr,
            warmupRatio: BASELINE_WARMUP,
            // The session's own dropout and weight decay (not a preset's retraining recipe), as before.
            dropout: session.config.dropout,
            weightDecay: session.config.weightDecay,
            signal: ctx.signal,
            onProgress: ({ step, total }) => ctx.onProgress?.({ note: `${name} retrain ${step}/${total}`, fraction: 0.6 + (0.4 * step) / Math.max(1, total) }),
            // The curve is the retraining's: the dev metric after each of its epochs.
            ...(ctx.curve ? { evalEvery: curve.evalEvery, evaluate: curve.evaluate } : {}),
          });
          try {
            if ((r as { aborted?: boolean }).aborted) throw new RunInterrupted(name);
            checkInterrupted(ctx, name);
            const { metric, metricName } = mainMetric(ctx.task.metrics, r.eval);
            return curve.finish(
              { method: name, seed: ctx.seed, metric, metricName, trainableParams: r.trainableParams, ms: performance.now() - t0, ranks: r.ranks },
              r.evals,
            );
          } finally {
            r.model.dispose();
          }
        } finally {
          session.dispose();
        }
      });
    },
  };
}

/** The AutoLoRA runners `compare` registers: the method and the paper's ablations. */
export const AUTOLORA_RUNNERS: readonly MethodRunner[] = [
  autoloraRunner("autolora", "AutoLoRA (softmax α, darts hypergradient), then retrain"),
  autoloraRunner("autolora-sigmoid", "ablation: sigmoid α (threshold 0.5)", { selection: "sigmoid" }),
  autoloraRunner("autolora-unconstrained", "ablation: w/o constraint (α = β, threshold = mean)", { selection: "unconstrained" }),
  autoloraRunner("autolora-first-order", "ablation: η = 0 (first-order hypergradient)", { hypergradient: "first-order" }),
  autoloraRunner("autolora-authors", "AutoLoRA with the authors-code preset's search (their Betty step, frozen head, ranks on β / Σβ), same budget", {
    preset: "authors-code",
  }),
];
