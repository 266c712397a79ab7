/** @file Conv and ConvTranspose composed from Pad, Slice, Concat and MatMul, for float64 graphs (onnxruntime has no float64 Conv). */
import type { Tensor } from '../tensor.js';
import type { ConvAttrs, ConvTransposeAttrs } from './conv.js';
import { add, sum } from './elementwise.js';
import { matmul } from './matmul.js';
import { concat, pad, reshape, slice, split, squeeze, transpose, unsqueeze } from './shape.js';

/** Per-channel bias [C] added to [N, C, H, W]. */
function addBias(y: Tensor, bias: Tensor | null): Tensor {
  return bias ? add(y, reshape(bias, [bias.shape[0], 1, 1])) : y;
}

/**
 * Convolution as patches times kernels: each kernel tap is a strided slice of the padded input, the taps are
 * stacked into [N, groups, C/groups*kh*kw, Ho*Wo] and one broadcast MatMul with the kernels [groups, M/groups,
 * C/groups*kh*kw] gives the output. `out` is the output shape the Conv shape rule computed.
 */
export function composedConv(x: Tensor, w: Tensor, bias: Tensor | null, a: ConvAttrs, out: readonly (number | string)[]): Tensor {
  const [n, c] = x.shape;
  const [m, ho, wo] = [out[1] as number, out[2] as number, out[3] as number];
  const [kh, kw] = a.kernel;
  const g = a.group;
  const padded = pad(x, [0, 0, a.pads[0], a.pads[1], 0, 0, a.pads[2], a.pads[3]]);
  const taps: Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const top = i * a.dilations[0];
      const left = j * a.dilations[1];
      const tap = slice(padded, [top, left], [top + (ho - 1) * a.strides[0] + 1, left + (wo - 1) * a.strides[1] + 1], [2, 3], a.strides);
      taps.push(unsqueeze(tap, 2));
    }
  }
  const cg = (c as number) / g;
  const patches = reshape(concat(taps, 2), [n, g, cg * kh * kw, ho * wo]);
  const kernels = reshape(w, [g, m / g, cg * kh * kw]);
  return addBias(reshape(matmul(kernels, patches), [n, m, ho, wo]), bias);
}

/** Inserts stride-1 zeros after every element along a spatial axis (2 or 3): size H becomes H*stride. */
function spread(t: Tensor, axis: number, stride: number): Tensor {
  if (stride === 1) return t;
  const widened = unsqueeze(t, axis + 1);
  const pads = new Array<number>(2 * widened.rank).fill(0);
  pads[widened.rank + axis + 1] = stride - 1;
  const shape = [...t.shape];
  shape[axis] = (t.shape[axis] as number) * stride;
  return reshape(pad(widened, pads), shape);
}

/**
 * Transposed convolution as kernels times input, then each tap's plane spread by the stride and shifted into
 * place by padding (negative pads crop), summed over taps. `out` is the output shape the ConvTranspose shape
 * rule computed.
 */
export function composedConvTranspose(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  a: ConvTransposeAttrs,
  out: readonly (number | string)[],
): Tensor {
  const [n, c, h, wd] = x.shape as [number | string, number, number, number];
  const [m, ho, wo] = [out[1] as number, out[2] as number, out[3] as number];
  const [kh, kw] = a.kernel;
  const g = a.group;
  const cg = c / g;
  const mg = m / g;
  const kernels = transpose(reshape(w, [g, cg, mg * kh * kw]), [0, 2, 1]);
  const planes = reshape(matmul(kernels, reshape(x, [n, g, cg, h * wd])), [n, m, kh * kw, h, wd]);
  const taps = split(planes, kh * kw, 2);
  const parts: Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const tap = squeeze(taps[i * kw + j], 2);
      const spreadOut = spread(spread(tap, 2, a.strides[0]), 3, a.strides[1]);
      const top = i * a.dilations[0] - a.pads[0];
      const left = j * a.dilations[1] - a.pads[1];
      const bottom = ho - top - h * a.strides[0];
      const right = wo - left - wd * a.strides[1];
      parts.push(pad(spreadOut, [0, 0, top, left, 0, 0, bottom, right]));
    }
  }
  return addBias(sum(parts), bias);
}
