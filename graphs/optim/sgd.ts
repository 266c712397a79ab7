/** @file SGD with optional heavy-ball or Nesterov momentum, as a graph transform of one parameter. */
import { add, mul, sub } from '../ops/elementwise.js';
import type { Tensor } from '../tensor.js';
import { type StateSlot, stateInput } from './state.js';

export interface SgdKnobs {
  lr: Tensor;
  /** Null for plain SGD (no momentum buffer). */
  momentum: Tensor | null;
  nesterov: boolean;
}

/**
 * PyTorch's update with dampening 0: buf = mu * buf + g; d = nesterov ? g + mu * buf : buf; p -= lr * d.
 * The buffer starts at zero, so the first step's buffer is g, as in PyTorch.
 */
export function sgdUpdate(param: Tensor, grad: Tensor, knobs: SgdKnobs): { next: Tensor; state: StateSlot[] } {
  if (knobs.momentum === null) return { next: sub(param, mul(grad, knobs.lr)), state: [] };
  const buf = stateInput(param, 'momentum');
  const bufNext = add(mul(buf, knobs.momentum), grad);
  const direction = knobs.nesterov ? add(grad, mul(bufNext, knobs.momentum)) : bufNext;
  const slot: StateSlot = { name: buf.name, param: param.name, slot: 'momentum', input: buf, next: bufNext };
  return { next: sub(param, mul(direction, knobs.lr)), state: [slot] };
}
