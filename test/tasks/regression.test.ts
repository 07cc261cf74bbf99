// Regression (one output, MSE; tiny RoBERTa fixture): LoRA and the AutoLoRA session train end to end.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, it } from "vitest";
import { loraTrains, regressionExamples, type Shape, sessionRuns } from "./helpers.js";

const SHAPE: Shape = {
  dir: "tiny-roberta-regression",
  head: "sequence-classification",
  numLabels: 1,
  targets: ["query", "value"],
  examples: regressionExamples,
};

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("regression", () => {
  it("trains with LoRA", async () => {
    const { model } = await loraTrains(SHAPE);
    model.dispose();
  });
  it("runs an AutoLoRA session: steps, ranks, retrain", async () => {
    await sessionRuns(SHAPE);
  });
});
