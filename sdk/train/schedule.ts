/**
 * Learning-rate schedules as multipliers of the base rate, step by step, matching
 * `transformers`' `get_linear_schedule_with_warmup`, `get_constant_schedule_with_warmup` and
 * `get_cosine_schedule_with_warmup`. Step `s` (0-based) is the `s`-th optimiser step: with a
 * warm-up the first step has multiplier 0, as in the HF Trainer.
 * @module
 */
import { ConfigError } from "../core/errors.js";

/** Which schedule: `linear` (warm-up, then linear decay to 0), `constant` (warm-up, then 1), `cosine`. */
export type ScheduleKind = "linear" | "constant" | "cosine";

/** Options of {@link makeSchedule}. */
export interface ScheduleOptions {
  /** Default `linear`. */
  kind?: ScheduleKind;
  /** Number of optimiser steps in the whole run. */
  totalSteps: number;
  /** Warm-up steps; wins over `warmupRatio`. Default 0. */
  warmupSteps?: number;
  /** Warm-up as a fraction of `totalSteps`, rounded up (HF `warmup_ratio`). */
  warmupRatio?: number;
  /** Cosine only: number of waves (default 0.5: from 1 down to 0). */
  numCycles?: number;
}

/** A schedule: step (0-based) → multiplier of the base learning rate. */
export type Schedule = (step: number) => number;

/** Warm-up steps implied by the options (HF: `ceil(warmup_ratio · total)`). */
export function warmupStepsOf(o: ScheduleOptions): number {
  if (o.warmupSteps !== undefined) return o.warmupSteps;
  if (o.warmupRatio !== undefined) return Math.ceil(o.warmupRatio * o.totalSteps);
  return 0;
}

/**
 * Build a learning-rate multiplier schedule.
 *
 * @throws {@link ConfigError} for a negative or non-integer step count, a warm-up ratio outside [0, 1].
 * @example
 * ```ts
 * const sched = makeSchedule({ kind: "linear", totalSteps: 10, warmupSteps: 3 });
 * [0, 1, 3, 10].map(sched); // [0, 1/3, 1, 0]
 * const lrAt = (step: number) => 2e-4 * sched(step); // the learning rate of 0-based step `step`
 * ```
 */
export function makeSchedule(options: ScheduleOptions): Schedule {
  const kind = options.kind ?? "linear";
  const total = options.totalSteps;
  if (!(Number.isInteger(total) && total >= 0)) throw new ConfigError(`schedule: totalSteps must be an integer ≥ 0, got ${total}`);
  if (options.warmupRatio !== undefined && !(options.warmupRatio >= 0 && options.warmupRatio <= 1)) {
    throw new ConfigError(`schedule: warmupRatio must be in [0, 1], got ${options.warmupRatio}`);
  }
  const warmup = warmupStepsOf(options);
  if (!(Number.isInteger(warmup) && warmup >= 0)) throw new ConfigError(`schedule: warmupSteps must be an integer ≥ 0, got ${warmup}`);
  const cycles = options.numCycles ?? 0.5;
  const warm = (s: number) => s / Math.max(1, warmup);
  switch (kind) {
    case "constant":
      return (s) => (s < warmup ? warm(s) : 1);
    case "linear":
      return (s) => (s < warmup ? warm(s) : Math.max(0, (total - s) / Math.max(1, total - warmup)));
    case "cosine":
      return (s) => {
        if (s < warmup) return warm(s);
        const progress = (s - warmup) / Math.max(1, total - warmup);
        return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
      };
    default:
      throw new ConfigError(`schedule: unknown kind '${String(kind)}'; use linear, constant or cosine`);
  }
}
