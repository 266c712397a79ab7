/** @file Optimizer state tensors: inputs named `opt.<param path>.<slot>` that come back updated as `<name>.next`. */
import type { Tensor } from '../tensor.js';

/** Prefix of every optimizer state input. */
export const STATE_PREFIX = 'opt.';

/** One state tensor of one parameter: the input carrying it into a step and its value after the step. */
export interface StateSlot {
  /** Input name, `opt.<param>.<slot>`. */
  name: string;
  /** Path of the parameter it belongs to. */
  param: string;
  /** 'momentum' (SGD), 'm' or 'v' (Adam, AdamW). */
  slot: string;
  input: Tensor;
  next: Tensor;
}

/** Declares the state input `opt.<param path>.<slot>`, shaped and typed like the parameter. */
export function stateInput(param: Tensor, slot: string): Tensor {
  return param.graph.input(`${STATE_PREFIX}${param.name}.${slot}`, param.dtype, param.shape);
}
