// Token labelling (word tags on the first sub-token; tiny BERT token-classification fixture): LoRA
// and the AutoLoRA session train end to end.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, it } from "vitest";
import { loraTrains, type Shape, sessionRuns, taggingExamples } from "./helpers.js";

const SHAPE: Shape = {
  dir: "tiny-bert-tokcls",
  head: "token-classification",
  numLabels: 5,
  targets: ["query", "value"],
  examples: taggingExamples,
  labels: ["O", "B-X", "B-Y", "I-X", "I-Y"],
};

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("token classification", () => {
  it("trains with LoRA", async () => {
    const { model } = await loraTrains(SHAPE);
    model.dispose();
  });
  it("runs an AutoLoRA session: steps, ranks, retrain", async () => {
    await sessionRuns(SHAPE);
  });
});
