// Rng: a restored state replays the same numbers; a malformed state is refused with a ConfigError
// and leaves the generator as it was.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../sdk/core/errors.js";
import { Rng } from "../../sdk/core/rng.js";

describe("Rng state", () => {
  it("restoring a saved state replays the same sequence", () => {
    const rng = new Rng(7);
    rng.uniform();
    const saved = rng.state();
    const a = [rng.uniform(), rng.uniform(), rng.uniform()];
    rng.setState(saved);
    expect([rng.uniform(), rng.uniform(), rng.uniform()]).toEqual(a);
  });

  it.each([[[1, 2, 3]], [[1, 2, 3, -1]], [[1, 2, 3, 2 ** 32]], [[1, 2, 3, 0.5]]])("refuses %j and keeps its state", (bad) => {
    const rng = new Rng(7);
    const saved = rng.state();
    expect(() => rng.setState(bad)).toThrow(ConfigError);
    expect(() => rng.setState(bad)).toThrow(/4 unsigned 32-bit words/);
    expect(rng.state()).toEqual(saved);
  });
});
