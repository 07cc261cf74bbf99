/** Deterministic sample inputs for the viz tests (shapes the Session hands over). */
import { ranksFromAlphas } from "../../sdk/methods/autolora/model.js";
import type { AlphaSnapshotInput, LayerAlphaInput, LayerRankInput, LossRowInput, ThresholdSweepRowInput } from "../../sdk/viz/index.js";

export const K = 8;
export const BLOCKS = 12;

export function layerName(block: number, kind: "query" | "value"): string {
  return `roberta.encoder.layer.${block}.attention.self.${kind}`;
}

function softmax(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** α after `t` outer steps: components drift apart, differently per layer. */
export function alphasAt(t: number): LayerAlphaInput[] {
  const out: LayerAlphaInput[] = [];
  for (let b = 0; b < BLOCKS; b++) {
    for (const kind of ["query", "value"] as const) {
      const seed = b * 2 + (kind === "value" ? 1 : 0);
      const beta = Array.from({ length: K }, (_, j) => (t / 10) * Math.sin(seed * 1.7 + j * 0.9) * (1 + (seed % 3)));
      out.push({ name: layerName(b, kind), alpha: softmax(beta) });
    }
  }
  return out;
}

export function history(steps = 20): AlphaSnapshotInput[] {
  return Array.from({ length: steps }, (_, i) => ({ step: (i + 1) * 10, alphas: alphasAt(i + 1) }));
}

/** Ranks by the one rule (ranksFromAlphas), as session.ranks() gives them. */
export function ranksFrom(alphas: LayerAlphaInput[], lambda = 1 / K): LayerRankInput[] {
  return ranksFromAlphas(alphas, "unconstrained", lambda);
}

export function lossRows(): LossRowInput[] {
  const rows: LossRowInput[] = [];
  for (let s = 1; s <= 200; s++) {
    rows.push({ step: s, phase: "inner", loss: 0.7 * Math.exp(-s / 80) + 0.2 + 0.03 * Math.sin(s) });
    if (s % 2 === 0) rows.push({ step: s, phase: "outer", loss: 0.72 * Math.exp(-s / 90) + 0.25 + 0.02 * Math.cos(s) });
    if (s % 50 === 0) rows.push({ step: s, phase: "eval", loss: 0.7 * Math.exp(-s / 100) + 0.28 });
  }
  return rows;
}

export function sweepRows(): ThresholdSweepRowInput[] {
  const alphas = alphasAt(20);
  return [0.02, 0.05, 0.08, 0.1, 0.125, 0.15, 0.2, 0.3].map((threshold) => {
    const totalRank = ranksFrom(alphas, threshold).reduce((s, r) => s + r.rank, 0);
    return { threshold, totalRank, trainableParams: totalRank * (768 + 768) + 2 * 768 + 2 };
  });
}
