/** @file Adam's moment updates with bias correction, as a graph transform of one parameter. */
import { add, div, mul, sqrt, sub } from '../ops/elementwise.js';
import type { Tensor } from '../tensor.js';
import { type StateSlot, stateInput } from './state.js';

/** Per-step scalars shared by every parameter, computed once per step. */
export interface AdamScalars {
  beta1: Tensor;
  beta2: Tensor;
  oneMinusBeta1: Tensor;
  oneMinusBeta2: Tensor;
  /** lr / (1 - beta1^t). */
  stepSize: Tensor;
  /** sqrt(1 - beta2^t). */
  sqrtCorrection2: Tensor;
  eps: Tensor;
}

/**
 * m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= stepSize * m / (sqrt(v) / sqrt(1 - b2^t) + eps),
 * PyTorch's arithmetic. `param` is the value the update starts from (already decayed for AdamW).
 */
export function adamUpdate(param: Tensor, base: Tensor, grad: Tensor, s: AdamScalars): { next: Tensor; state: StateSlot[] } {
  const m = stateInput(param, 'm');
  const v = stateInput(param, 'v');
  const mNext = add(mul(m, s.beta1), mul(grad, s.oneMinusBeta1));
  const vNext = add(mul(v, s.beta2), mul(mul(grad, grad), s.oneMinusBeta2));
  const denom = add(div(sqrt(vNext), s.sqrtCorrection2), s.eps);
  const next = sub(base, mul(div(mNext, denom), s.stepSize));
  return {
    next,
    state: [
      { name: m.name, param: param.name, slot: 'm', input: m, next: mNext },
      { name: v.name, param: param.name, slot: 'v', input: v, next: vNext },
    ],
  };
}
