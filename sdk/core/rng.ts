/**
 * One seeded random generator per session (xoshiro128**), so that the same seed gives the
 * same initialisation, data order, dropout masks and ranks. Its state is four 32-bit words and
 * is saved with checkpoints.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * rng.uniform();          // in [0, 1)
 * rng.shuffle([1, 2, 3]); // a permutation, in place
 * const saved = rng.state(); rng.setState(saved);
 * ```
 * @module
 */
import { ConfigError } from "./errors.js";

/** A small, fast, seedable PRNG whose whole state can be saved and restored. */
export class Rng {
  private s: Uint32Array;

  constructor(seed = 0) {
    // splitmix32 spreads one seed over the four state words (never all zero).
    this.s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform float in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A seed for a tfjs random op (`tf.randomUniform(..., seed)`, `tf.dropout(..., seed)`). */
  tfSeed(): number {
    return this.nextUint32() % 2147483647;
  }

  /** Fisher–Yates shuffle, in place; returns the array. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }

  /** A Float32Array of uniform values in [lo, hi). */
  uniformArray(n: number, lo: number, hi: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }

  /** The generator's state, to save. */
  state(): number[] {
    return Array.from(this.s);
  }

  /** Restore a state from {@link Rng.state}. */
  setState(state: readonly number[]): void {
    if (!Array.isArray(state) || state.length !== 4 || !state.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new ConfigError(`an Rng state is 4 unsigned 32-bit words (from Rng.state()), got ${JSON.stringify(state)}`);
    }
    this.s = Uint32Array.from(state);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
