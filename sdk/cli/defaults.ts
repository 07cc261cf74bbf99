/**
 * The bundled defaults the CLI runs on with no arguments (no GPU, no internet).
 * @module
 */

/** Our own small pretrained encoder first; the tiny test checkpoint if it is absent. */
export const DEFAULT_MODELS = ["datasets/models/roberta-tiny", "datasets/fixtures/hf/tiny-bert-seqcls"];
/** SpamAssassin ham vs spam, shipped by an npm package. */
export const DEFAULT_TASK = "spam";
