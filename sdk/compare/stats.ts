/**
 * Paired statistics for comparisons: on a given seed every method sees the same data order, head
 * init and (where shapes match) LoRA init, so the per-seed difference from a baseline removes the
 * seed's own luck, which on small tasks moves a metric far more than a method does (issue 15
 * measured up to 40 F1 points between seeds against 1–3 between rank choices).
 *
 * The interval is Student's t on the paired differences: mean ± t₀.₉₇₅,ₙ₋₁ · s/√n. The t quantile
 * comes from the t distribution's CDF, F(t) = 1 − ½·I_{ν/(ν+t²)}(ν/2, ½) for t ≥ 0 (Abramowitz &
 * Stegun 26.7.1 with 26.5.27), with the regularised incomplete beta function I evaluated by its
 * continued fraction (DLMF 8.17.22, modified Lentz) and solved for t by bisection.
 * @module
 */

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: about 15 significant digits). */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The continued fraction of I_x(a, b) (DLMF 8.17.22), by the modified Lentz method. */
function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b), x ∈ [0, 1]. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The fraction converges fast for x < (a+1)/(a+b+2); use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) otherwise.
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(x, a, b)) / a : 1 - (front * betaFraction(1 - x, b, a)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/**
 * The `p` quantile of Student's t with `df` degrees of freedom (e.g. `studentTQuantile(0.975, 9)`
 * ≈ 2.2622, the 95% two-sided critical value for 10 paired seeds).
 *
 * @example
 * ```ts
 * studentTQuantile(0.975, 1); // 12.706…
 * ```
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) return Number.NaN;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** One method against the baseline over the seeds both ran. */
export interface PairedDifference {
  method: string;
  baseline: string;
  /** The seeds both ran, ascending. */
  seeds: number[];
  /** method − baseline on each of those seeds. */
  differences: number[];
  /** Mean difference (the paired estimate of the effect). */
  mean: number;
  /** Sample standard deviation of the differences (0 for one seed). */
  std: number;
  /** 95% confidence interval of the mean difference (Student's t, n − 1 df); null for fewer than 2 seeds. */
  ci95: [number, number] | null;
  /** Seeds on which the method beat / lost to / tied the baseline. */
  wins: number;
  losses: number;
  ties: number;
  /**
   * Two-sided p-value of the paired t-test (mean difference 0, n − 1 df); null below 2 seeds or
   * when every difference is the same (std 0: no t).
   */
  p: number | null;
  /**
   * `p` adjusted by Holm's step-down method over the comparisons of one table (every method
   * against the same baseline: {@link holmAdjust}); `null` where `p` is. A difference is
   * resolved for the whole table, not only on its own, when this is below 0.05.
   */
  pHolm?: number | null;
  /**
   * `better` / `worse` when the interval excludes 0, `unresolved` when it spans 0, `too few seeds`
   * below 2, `identical` when the two scored exactly the same on every seed (for example an
   * ablation that reduces to the baseline: the same runs under common random numbers).
   */
  verdict: "better" | "worse" | "unresolved" | "too few seeds" | "identical";
}

/**
 * Paired differences of `method` from `baseline`, over the seeds both have. `higherIsBetter`
 * (default true) says which sign is a win (false for a loss metric).
 *
 * @example
 * ```ts
 * const d = pairedDifference("autolora", new Map([[0, 0.71], [1, 0.69]]), "lora", new Map([[0, 0.70], [1, 0.66]]));
 * d.mean; // 0.02; d.wins === 2
 * ```
 */
export function pairedDifference(
  method: string,
  scores: ReadonlyMap<number, number>,
  baseline: string,
  baseScores: ReadonlyMap<number, number>,
  higherIsBetter = true,
): PairedDifference {
  const seeds = [...scores.keys()].filter((s) => baseScores.has(s)).sort((a, b) => a - b);
  const differences = seeds.map((s) => scores.get(s)! - baseScores.get(s)!);
  const n = differences.length;
  const mean = n ? differences.reduce((a, b) => a + b, 0) / n : Number.NaN;
  const std = n > 1 ? Math.sqrt(differences.reduce((s, d) => s + (d - mean) ** 2, 0) / (n - 1)) : 0;
  const half = n > 1 ? studentTQuantile(0.975, n - 1) * (std / Math.sqrt(n)) : Number.NaN;
  const ci95: [number, number] | null = n > 1 ? [mean - half, mean + half] : null;
  const sign = higherIsBetter ? 1 : -1;
  const wins = differences.filter((d) => sign * d > 0).length;
  const losses = differences.filter((d) => sign * d < 0).length;
  let verdict: PairedDifference["verdict"] = "too few seeds";
  if (ci95) {
    const lo = Math.min(sign * ci95[0], sign * ci95[1]);
    const hi = Math.max(sign * ci95[0], sign * ci95[1]);
    verdict = lo > 0 ? "better" : hi < 0 ? "worse" : "unresolved";
  }
  if (n > 0 && differences.every((d) => d === 0)) verdict = "identical";
  const p = n > 1 && std > 0 ? 2 * (1 - studentTCdf(Math.abs(mean) / (std / Math.sqrt(n)), n - 1)) : null;
  return { method, baseline, seeds, differences, mean, std, ci95, wins, losses, ties: n - wins - losses, p, verdict };
}

/**
 * A p-value as the tables print it: 2 significant digits, "< 0.001" below, "n/a" for none.
 *
 * @example
 * ```ts
 * formatP(0.0234); // "0.023"
 * ```
 */
export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined) return "n/a";
  return p < 0.001 ? "< 0.001" : p.toPrecision(2);
}

/**
 * Holm's step-down adjustment of a family of p-values (Holm 1979): sort ascending, multiply the
 * i-th smallest (from 0) by (m − i), carry the running maximum, cap at 1. Controls the chance of
 * any false "resolved" in the family at the level used, under any dependence. `null`s are kept
 * and do not count in m.
 *
 * @example
 * ```ts
 * holmAdjust([0.01, 0.04, 0.03]); // [0.03, 0.06, 0.06]
 * ```
 */
export function holmAdjust(ps: readonly (number | null)[]): (number | null)[] {
  const idx = ps.map((p, i) => [p, i] as const).filter((x): x is readonly [number, number] => x[0] !== null);
  idx.sort((a, b) => a[0] - b[0]);
  const out: (number | null)[] = ps.map(() => null);
  let running = 0;
  idx.forEach(([p, i], k) => {
    running = Math.max(running, Math.min(1, (idx.length - k) * p));
    out[i] = running;
  });
  return out;
}

/** One sentence for a paired difference, e.g. "autolora vs lora: −1.20 (95% CI −3.10 to 0.70) over 10 seeds, 4/10 wins: not resolved." */
export function describeDifference(d: PairedDifference, scale = 100, digits = 2): string {
  const f = (x: number) => (x * scale).toFixed(digits).replace(/^-/, "−");
  const n = d.seeds.length;
  const ci = d.ci95 ? ` (95% CI ${f(d.ci95[0])} to ${f(d.ci95[1])})` : "";
  const what =
    d.verdict === "better"
      ? `${d.method} is better than ${d.baseline}`
      : d.verdict === "worse"
        ? `${d.method} is worse than ${d.baseline}`
        : d.verdict === "unresolved"
          ? "not resolved: the interval contains 0"
          : d.verdict === "identical"
            ? `identical to ${d.baseline} on every seed`
            : "too few seeds for an interval";
  return `${d.method} − ${d.baseline}: ${f(d.mean)}${ci} over ${n} seed${n === 1 ? "" : "s"}, ${d.wins}/${n} wins: ${what}.`;
}
