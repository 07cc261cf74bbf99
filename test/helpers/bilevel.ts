/**
 * The tiny bilevel problem the hypergradient tests share: `datasets/fixtures/hf/tiny-bert-seqcls`
 * with gated LoRA on query/value, its LoRA factors and β set from the fixture that the PyTorch
 * reference (scripts/gpu/make_fixtures.py) used, and the fixture's train / validation batches.
 */
import { readFile } from "node:fs/promises";
import * as tf from "@tensorflow/tfjs";
import type { BilevelProblem } from "../../sdk/meta/index.js";
import type { Selection } from "../../sdk/methods/autolora/config.js";
import { attachAutoLoRA } from "../../sdk/methods/autolora/index.js";
import type { Model } from "../../sdk/models/module.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { readSafetensors } from "../../sdk/models/safetensors.js";

const FX = "datasets/fixtures/hf";

/** One fixture batch as the PyTorch reference stored it. */
export interface RefBatch {
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[];
}

/** The reference file `hypergrad/<selection>.json`. */
export interface HypergradRef {
  k: number;
  lora_alpha: number;
  eta: number;
  train: RefBatch;
  val: RefBatch;
  exact: Record<string, number[]>;
  darts: Record<string, number[]>;
  first_order: Record<string, number[]>;
}

/** The problem, its model and reference, the parameter names the fixture sets, and a disposer. */
export interface TinyBilevel {
  model: Model;
  problem: BilevelProblem;
  ref: HypergradRef;
  fixtureNames: string[];
  dispose: () => void;
}

/** Build the tiny bilevel problem for `selection` (softmax, sigmoid, ...) on the active backend. */
export async function tinyBilevel(selection: Selection = "softmax"): Promise<TinyBilevel> {
  const ref: HypergradRef = JSON.parse(await readFile(`${FX}/hypergrad/${selection}.json`, "utf8"));
  const model = await loadPretrained(`${FX}/tiny-bert-seqcls`);
  const h = attachAutoLoRA(model, { targetModules: ["query", "value"], maxRank: ref.k, alpha: ref.lora_alpha, selection });
  // Non-zero LoRA factors (B = 0 at init would zero A's gradient) and β, as in the reference.
  const file = await readSafetensors(`${FX}/hypergrad/${selection}.safetensors`);
  for (const [name, t] of file.tensors) model.params.param(name)!.variable.assign(tf.tidy(() => tf.tensor(t.data, t.shape)));
  const batch = (b: RefBatch) => ({
    inputs: { inputIds: tf.tensor2d(b.input_ids, undefined, "int32"), attentionMask: tf.tensor2d(b.attention_mask, undefined, "int32") },
    labels: tf.tensor1d(b.labels, "int32"),
  });
  const tr = batch(ref.train);
  const va = batch(ref.val);
  const loss = (b: typeof tr) => () => model.loss(model.forward(b.inputs, { training: false }), b.labels);
  const problem: BilevelProblem = {
    store: model.params,
    innerNames: h.innerParamNames(),
    outerNames: h.selectionParamNames(),
    trainLoss: loss(tr),
    valLoss: loss(va),
  };
  return {
    model,
    problem,
    ref,
    fixtureNames: [...file.tensors.keys()],
    dispose: () => {
      tf.dispose([tr.inputs.inputIds, tr.inputs.attentionMask, tr.labels, va.inputs.inputIds, va.inputs.attentionMask, va.labels]);
      model.dispose();
    },
  };
}

/** Read a loss and a map of gradients back to the host, disposing the tensors. */
export async function readLossAndGrads(loss: tf.Scalar, grads: Map<string, tf.Tensor>): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const out = { loss: (await loss.data())[0]!, grads: new Map<string, Float32Array>() };
  for (const [n, g] of grads) out.grads.set(n, (await g.data()) as Float32Array);
  tf.dispose([loss, ...grads.values()]);
  return out;
}
