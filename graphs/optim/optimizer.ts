/** @file Optimizers as graph transforms: parameters and their gradients in, updated parameters and state out. */
import { GraphError } from '../errors.js';
import { add, cast, div, mul, pow, sqrt, sub } from '../ops/elementwise.js';
import { type Tensor, isFloat, sameShape } from '../tensor.js';
import { adamUpdate } from './adam.js';
import { clipByGlobalNorm, globalNorm } from './clip.js';
import { type OptimizerConfig, type ResolvedOptimizer, decays, resolveOptimizer } from './config.js';
import { knob } from './knobs.js';
import { sgdUpdate } from './sgd.js';
import type { StateSlot } from './state.js';

/** What one optimizer step adds to a graph. */
export interface OptimizerStep {
  /** Updated value of each parameter, in the order given. */
  next: Tensor[];
  /** Every state tensor, parameter by parameter. */
  state: StateSlot[];
  /** Global L2 norm of the gradients before clipping, a scalar. */
  gradNorm: Tensor;
  config: ResolvedOptimizer;
}

/**
 * Appends one optimizer step to the graph of `params`. `step` is the number of steps already taken (a scalar
 * input, int64 or float); Adam's bias correction uses t = step + 1. Hyperparameters become knobs (`knob.lr`,
 * `knob.momentum`, `knob.beta1`, `knob.beta2`, `knob.eps`, `knob.weight_decay`, `knob.clip_norm`) whose defaults
 * are the configured values. Order: clip by global norm, then weight decay, then the update.
 */
export function applyOptimizer(
  params: readonly Tensor[],
  grads: readonly Tensor[],
  config: OptimizerConfig | ResolvedOptimizer,
  step: Tensor,
): OptimizerStep {
  const cfg = resolveOptimizer(config);
  if (params.length === 0) throw new GraphError('applyOptimizer: no parameters to update');
  if (grads.length !== params.length) {
    throw new GraphError(`applyOptimizer: ${params.length} parameters but ${grads.length} gradients`);
  }
  const g = params[0].graph;
  params.forEach((p, i) => {
    const gr = grads[i];
    if (p.kind !== 'param') throw new GraphError(`applyOptimizer: ${p.toString()} is not a parameter`);
    if (p.graph !== g || gr.graph !== g) throw new GraphError(`applyOptimizer: ${p.name} and its gradient must belong to one graph`);
    if (gr.dtype !== p.dtype || !sameShape(gr.shape, p.shape)) {
      throw new GraphError(`applyOptimizer: the gradient of ${p.toString()} is ${gr.toString()}; it must match the parameter`);
    }
  });
  if (step.rank !== 0 || (step.dtype !== 'int64' && !isFloat(step.dtype))) {
    throw new GraphError(`applyOptimizer: step ${step.toString()} must be an int64 or float scalar`);
  }

  return g.atScope('opt', () => {
    const lr = knob(g, 'lr', cfg.lr);
    const gradNorm = globalNorm(grads);
    const clipped = cfg.clipNorm === null ? [...grads] : clipByGlobalNorm(grads, gradNorm, knob(g, 'clip_norm', cfg.clipNorm));
    const wd = cfg.weightDecay > 0 ? knob(g, 'weight_decay', cfg.weightDecay) : null;
    const next: Tensor[] = [];
    const state: StateSlot[] = [];

    if (cfg.kind === 'sgd') {
      const momentum = cfg.momentum > 0 ? knob(g, 'momentum', cfg.momentum) : null;
      params.forEach((p, i) => {
        const r = g.atScope(`opt.${p.name}`, () => {
          const gr = wd !== null && decays(cfg, p.name) ? add(clipped[i], mul(p, wd)) : clipped[i];
          return sgdUpdate(p, gr, { lr, momentum, nesterov: cfg.nesterov });
        });
        next.push(r.next);
        state.push(...r.state);
      });
      return { next, state, gradNorm, config: cfg };
    }

    const beta1 = knob(g, 'beta1', cfg.beta1);
    const beta2 = knob(g, 'beta2', cfg.beta2);
    const eps = knob(g, 'eps', cfg.eps);
    const t = cast(add(step, 1), g.floatType);
    const scalars = {
      beta1,
      beta2,
      eps,
      oneMinusBeta1: sub(1, beta1),
      oneMinusBeta2: sub(1, beta2),
      stepSize: div(lr, sub(1, pow(beta1, t))),
      sqrtCorrection2: sqrt(sub(1, pow(beta2, t))),
    };
    const decoupled = cfg.kind === 'adamw' && wd !== null ? sub(1, mul(lr, wd)) : null;
    params.forEach((p, i) => {
      const r = g.atScope(`opt.${p.name}`, () => {
        const decaying = wd !== null && decays(cfg, p.name);
        const gr = decaying && decoupled === null ? add(clipped[i], mul(p, wd)) : clipped[i];
        const base = decaying && decoupled !== null ? mul(p, decoupled) : p;
        return adamUpdate(p, base, gr, scalars);
      });
      next.push(r.next);
      state.push(...r.state);
    });
    return { next, state, gradNorm, config: cfg };
  });
}
