/** @file Public entry of graphs/: builder, tensors, initializers, ops, layers, optimizers, autodiff, serialization and the runner. */
export { GraphError } from './errors.js';
export { Graph, type GraphOptions, type ConstantValues } from './graph.js';
export { Tensor, type DType, type Dim, type FloatType, type Shape, type TensorData, type TensorKind } from './tensor.js';
export { init, fans, Rng, type Init, type InitSpec, type FanMode } from './init.js';
export {
  defineOp,
  lookupOp,
  registeredOps,
  isDifferentiable,
  type OpDef,
  type Node,
  type GradContext,
  type GradRule,
  type OutputSpec,
  type OnnxAttribute,
  type Encoding,
} from './op.js';
export * from './ops/index.js';
export * from './layers/index.js';
export * from './optim/index.js';
export { gradients, type GradientOptions } from './autodiff.js';
export { toModel, encodeModel, decodeModel, extractSubgraph, valueInfo, tensorProto, type ToModelOptions } from './serialize.js';
export { Runner, StepLoop, type RunnerOptions, type Feeds } from './runner.js';
