// Sequence classification (3 classes, tiny BERT fixture): LoRA and the AutoLoRA session train end to end.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, it } from "vitest";
import { classificationExamples, loraTrains, type Shape, sessionRuns } from "./helpers.js";

const SHAPE: Shape = { dir: "tiny-bert-seqcls", head: "sequence-classification", numLabels: 3, targets: ["query", "value"], examples: classificationExamples };

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("sequence classification", () => {
  it("trains with LoRA", async () => {
    const { model } = await loraTrains(SHAPE);
    model.dispose();
  });
  it("runs an AutoLoRA session: steps, ranks, retrain", async () => {
    await sessionRuns(SHAPE);
  });
});
