// The kernel expands shorthand properties before tslab compiles a cell (tslab 1.0.22 loses
// `{ x }` when x comes from an earlier cell). The rewrite must keep every program's meaning.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

const { expandShorthand } = createRequire(import.meta.url)("../../kernels/shorthand.cjs") as { expandShorthand: (code: string) => string };

describe("expandShorthand", () => {
  it("expands object-literal shorthands, nested and in calls", () => {
    expect(expandShorthand("const s = await Session.create({ model, tokenizer, data: { train } });")).toBe(
      "const s = await Session.create({ model: model, tokenizer: tokenizer, data: { train: train } });",
    );
  });
  it("leaves destructuring patterns, strings, comments and explicit properties alone", () => {
    for (const code of ["const { a, b } = obj;", "const t = '{ a }'; // { b }", "f({ a: 1, b: c });", "function g({ x }: { x: number }) { return x; }"]) {
      expect(expandShorthand(code)).toBe(code);
    }
  });
  it("keeps the value of what it rewrites", () => {
    const code = "const a = 1, b = 'x'; const o = { a, b, c: 3 };";
    const run = (src: string) => new Function(`${src}; return o;`)();
    expect(run(expandShorthand(code))).toEqual(run(code));
  });
});
