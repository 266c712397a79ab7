/** @file Convolution layers: conv2d and convTranspose2d with named `weight` and `bias` and Kaiming-initialized kernels. */
import { GraphError } from '../errors.js';
import { type InitSpec, init } from '../init.js';
import { type ConvOptions, conv, convTranspose } from '../ops/conv.js';
import type { Tensor } from '../tensor.js';

export interface Conv2dOptions extends ConvOptions {
  /** Output channels. */
  filters: number;
  /** Kernel size: one number, or [height, width]. */
  kernel: number | readonly number[];
  /** Add a bias (default true). */
  bias?: boolean;
  /** Initializer of the kernel (default Kaiming uniform over the fan-in, gain sqrt(2) for ReLU-like activations). */
  weightInit?: InitSpec;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: number | readonly number[];
}

function kernelSize(name: string, k: number | readonly number[]): [number, number] {
  const list = typeof k === 'number' ? [k, k] : [...k];
  if (list.length !== 2 || list.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new GraphError(`conv layer '${name}': kernel must be a positive integer or [height, width], got ${JSON.stringify(k)}`);
  }
  return [list[0], list[1]];
}

function channels(name: string, x: Tensor, groups: number, filters: number): number {
  const c = x.shape[1];
  if (x.rank !== 4 || typeof c !== 'number') {
    throw new GraphError(`conv layer '${name}': input must be [batch, channels, height, width] with static channels, got ${x.toString()}`);
  }
  if (!Number.isInteger(filters) || filters < 1) throw new GraphError(`conv layer '${name}': filters must be a positive integer, got ${filters}`);
  if (c % groups !== 0 || filters % groups !== 0) {
    throw new GraphError(`conv layer '${name}': ${c} input channels and ${filters} filters must both divide into ${groups} groups`);
  }
  return c;
}

/**
 * A 2-D convolution layer named `name`: x [N, C, H, W] -> [N, filters, Ho, Wo], with `<name>.weight`
 * [filters, C/groups, kh, kw] and `<name>.bias` [filters].
 */
export function conv2d(name: string, x: Tensor, opts: Conv2dOptions): Tensor {
  const g = x.graph;
  const groups = opts.groups ?? 1;
  const c = channels(name, x, groups, opts.filters);
  const [kh, kw] = kernelSize(name, opts.kernel);
  return g.scope(name, () => {
    const w = g.param('weight', [opts.filters, c / groups, kh, kw], opts.weightInit ?? 'kaimingUniform');
    const b = opts.bias === false ? null : g.param('bias', [opts.filters], init.zeros());
    return conv(x, w, b, opts);
  });
}

/**
 * A 2-D transposed convolution layer named `name`: x [N, C, H, W] -> [N, filters, Ho, Wo], with `<name>.weight`
 * [C, filters/groups, kh, kw] and `<name>.bias` [filters]. The default kernel init is Kaiming uniform over the
 * inputs reaching one output, (C/groups)*kh*kw/(stride_h*stride_w), since the weight's own layout puts the
 * output channels second.
 */
export function convTranspose2d(name: string, x: Tensor, opts: ConvTranspose2dOptions): Tensor {
  const g = x.graph;
  const groups = opts.groups ?? 1;
  const c = channels(name, x, groups, opts.filters);
  const [kh, kw] = kernelSize(name, opts.kernel);
  const stride = typeof opts.stride === 'number' ? [opts.stride, opts.stride] : (opts.stride ?? [1, 1]);
  const fanIn = Math.max(1, ((c / groups) * kh * kw) / (stride[0] * stride[1]));
  const bound = Math.SQRT2 * Math.sqrt(3 / fanIn);
  return g.scope(name, () => {
    const w = g.param('weight', [c, opts.filters / groups, kh, kw], opts.weightInit ?? init.uniform(-bound, bound));
    const b = opts.bias === false ? null : g.param('bias', [opts.filters], init.zeros());
    return convTranspose(x, w, b, opts);
  });
}
