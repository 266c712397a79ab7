/** @file Optimizer settings: the configuration types, their defaults and the checks that name a bad setting. */
import { GraphError } from '../errors.js';

/** Settings every optimizer shares. */
interface CommonConfig {
  /** Learning rate; the default of the runtime knob `knob.lr`. */
  lr: number;
  /**
   * Weight decay; the default of `knob.weight_decay`. L2 (added to the gradient) for SGD and Adam, decoupled
   * (p -= lr * wd * p) for AdamW. 0 leaves the decay out of the graph.
   */
  weightDecay?: number;
  /** Parameters the decay skips: an entry matches a path equal to it or ending in `.<entry>` (e.g. 'bias'). */
  excludeFromDecay?: readonly string[];
  /** Clip gradients to this global L2 norm; the default of `knob.clip_norm`. Absent leaves clipping out. */
  clipNorm?: number;
}

/** SGD, with heavy-ball or Nesterov momentum (PyTorch's formulation, no dampening). */
export interface SgdConfig extends CommonConfig {
  kind: 'sgd';
  /** Momentum factor; the default of `knob.momentum`. 0 (default) is plain SGD with no state. */
  momentum?: number;
  nesterov?: boolean;
}

/** Adam (L2 weight decay) or AdamW (decoupled weight decay), with bias correction. */
export interface AdamConfig extends CommonConfig {
  kind: 'adam' | 'adamw';
  /** Defaults of `knob.beta1`, `knob.beta2` and `knob.eps`: 0.9, 0.999, 1e-8. */
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export type OptimizerConfig = SgdConfig | AdamConfig;

/** A configuration with every default filled in. */
export type ResolvedOptimizer =
  | (Required<Omit<SgdConfig, 'clipNorm'>> & { clipNorm: number | null })
  | (Required<Omit<AdamConfig, 'clipNorm'>> & { clipNorm: number | null });

function check(ok: boolean, field: string, value: unknown, what: string): void {
  if (!ok) throw new GraphError(`optimizer.${field} is ${String(value)}; it must be ${what}`);
}

const finite = (v: number): boolean => typeof v === 'number' && Number.isFinite(v);

/** Fills in defaults and checks every setting (AdamW's default weight decay is 0.01, as in PyTorch). */
export function resolveOptimizer(config: OptimizerConfig | ResolvedOptimizer): ResolvedOptimizer {
  const kind = (config as { kind?: unknown }).kind;
  if (kind !== 'sgd' && kind !== 'adam' && kind !== 'adamw') {
    throw new GraphError(`optimizer.kind is ${String(kind)}; it must be 'sgd', 'adam' or 'adamw'`);
  }
  check(finite(config.lr) && config.lr >= 0, 'lr', config.lr, 'a finite number >= 0');
  const weightDecay = config.weightDecay ?? (kind === 'adamw' ? 0.01 : 0);
  check(finite(weightDecay) && weightDecay >= 0, 'weightDecay', weightDecay, 'a finite number >= 0');
  const clipNorm = config.clipNorm ?? null;
  check(clipNorm === null || (finite(clipNorm) && clipNorm > 0), 'clipNorm', clipNorm, 'a number > 0 (leave it out for no clipping)');
  const excludeFromDecay = [...(config.excludeFromDecay ?? [])];
  for (const e of excludeFromDecay) check(typeof e === 'string' && e !== '', 'excludeFromDecay', e, 'a list of parameter names');
  const common = { lr: config.lr, weightDecay, excludeFromDecay, clipNorm };
  if (config.kind === 'sgd') {
    const momentum = config.momentum ?? 0;
    check(finite(momentum) && momentum >= 0 && momentum < 1, 'momentum', momentum, 'in [0, 1)');
    const nesterov = config.nesterov ?? false;
    check(typeof nesterov === 'boolean', 'nesterov', nesterov, 'true or false');
    check(!nesterov || momentum > 0, 'nesterov', nesterov, 'false when momentum is 0 (Nesterov needs momentum)');
    return { kind: 'sgd', ...common, momentum, nesterov };
  }
  const beta1 = config.beta1 ?? 0.9;
  const beta2 = config.beta2 ?? 0.999;
  const eps = config.eps ?? 1e-8;
  check(finite(beta1) && beta1 >= 0 && beta1 < 1, 'beta1', beta1, 'in [0, 1)');
  check(finite(beta2) && beta2 >= 0 && beta2 < 1, 'beta2', beta2, 'in [0, 1)');
  check(finite(eps) && eps > 0, 'eps', eps, 'a number > 0');
  return { kind: config.kind, ...common, beta1, beta2, eps };
}

/** Whether weight decay applies to the parameter at `path`. */
export function decays(config: ResolvedOptimizer, path: string): boolean {
  if (config.weightDecay === 0) return false;
  return !config.excludeFromDecay.some((e) => path === e || path.endsWith(`.${e}`));
}
