/**
 * The tensor-level ops between sdk/backend and the models: each picks its fused webgpu kernel or
 * its composite form inside itself (sdk/ops/fused.ts says when), so models, training and the
 * hypergradients call one op and never ask which backend runs. `nn.ts`: LayerNorm, GELU, linear,
 * the attention softmax, attention, dropout; `optim.ts`: Adam's step, axpy, sum of squares,
 * finiteness flags; `second-order.ts`: the ops differentiable twice and `withSecondOrder`.
 *
 * Public as the `ops` namespace: the twice-differentiable ops (their names are generic), the
 * second-order scope, the fused switch and the attention softmax.
 * @module
 */
export { fusedKernelsActive } from "./fused.js";
export { maskedScaledSoftmax } from "./nn.js";
export { exp, logSoftmax, secondOrderActive, sigmoid, softmax, tanh, withSecondOrder } from "./second-order.js";
