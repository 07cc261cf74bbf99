/** The torch.optim.AdamW trajectory made on the GPU machine (datasets/fixtures/hf/adamw.json). */
import { readFileSync } from "node:fs";

export interface AdamwFixture {
  lr: number;
  betas: [number, number];
  eps: number;
  weight_decay: number;
  p0: number[][];
  grads: number[][][];
  trajectory: number[][][];
  exp_avg: number[][];
  exp_avg_sq: number[][];
}

/** Read the fixture. */
export function readAdamwFixture(): AdamwFixture {
  return JSON.parse(readFileSync(new URL("../../datasets/fixtures/hf/adamw.json", import.meta.url), "utf8")) as AdamwFixture;
}
