// ranksFromAlphas' threshold rule (AutoLoRA, Zhang et al. 2024, eq. 7: k* = |{j : α_j ≥ λ}|) and the
// ranges the docs give for λ: softmax (0, 1], sigmoid (0, 1), unconstrained any finite number.
// Plain numbers; no model is built, so this file runs in milliseconds.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../sdk/core/errors.js";
import { ranksFromAlphas } from "../../sdk/methods/autolora/index.js";

describe("ranksFromAlphas: range ends and messages", () => {
  const alphas = [{ name: "q", alpha: [0.5, 0.3, 0.1, 0.1] }];
  it("no layers → no ranks", () => {
    expect(ranksFromAlphas([], "softmax")).toEqual([]);
  });
  it("λ = 1 is allowed under softmax: only an α of 1 counts", () => {
    expect(ranksFromAlphas([{ name: "q", alpha: [1, 0] }], "softmax", 1)).toEqual([{ name: "q", rank: 1, threshold: 1 }]);
  });
  it("under unconstrained α any finite λ is allowed, even above 1: α = [3, 1.5, 0.5] at λ = 2 → rank 1", () => {
    expect(ranksFromAlphas([{ name: "q", alpha: [3, 1.5, 0.5] }], "unconstrained", 2)).toEqual([{ name: "q", rank: 1, threshold: 2 }]);
  });
  it("sigmoid refuses 0 and 1; a non-finite λ is refused under every rule, naming it", () => {
    for (const t of [0, 1]) {
      expect(() => ranksFromAlphas(alphas, "sigmoid", t)).toThrow(ConfigError);
      expect(() => ranksFromAlphas(alphas, "sigmoid", t)).toThrow(new RegExp(`threshold ${t} is out of range for sigmoid`));
    }
    for (const s of ["softmax", "sigmoid", "unconstrained"] as const) {
      expect(() => ranksFromAlphas(alphas, s, Number.NaN)).toThrow(ConfigError);
      expect(() => ranksFromAlphas(alphas, s, Number.NaN)).toThrow(/threshold NaN must be a finite number or 'mean'/);
    }
  });
  it("the softmax message gives the paper's default 1/k (k = 4 → 0.25)", () => {
    expect(() => ranksFromAlphas(alphas, "softmax", 2)).toThrow(/use a value in \(0, 1\]; the paper's default is 1\/k = 0.25/);
  });
});
