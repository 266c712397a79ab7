/** @file 2-D convolution and transposed convolution (stride, explicit pads, dilation, groups, bias) with their gradients. */
import { GraphError } from '../errors.js';
import { type OpDef, type OutputSpec, defineOp } from '../op.js';
import { composedConv, composedConvTranspose } from './conv-composed.js';
import { type Dim, Tensor, formatShape, isFloat, mulDims } from '../tensor.js';
import { reduceSum } from './reduce.js';
import { matmul } from './matmul.js';
import { reshape, transpose } from './shape.js';

type Pair = [number, number];
/** Begin and end padding per spatial axis in ONNX order: [top, left, bottom, right]. */
type Quad = [number, number, number, number];

/** Normalized attributes of Conv; `kernel` is read from the weight's spatial dims. */
export interface ConvAttrs {
  kernel: Pair;
  strides: Pair;
  pads: Quad;
  dilations: Pair;
  group: number;
}

export interface ConvTransposeAttrs extends ConvAttrs {
  /** Extra rows and columns at the bottom and right of the output; smaller than the stride (onnxruntime's rule). */
  outputPadding: Pair;
}

/** User options of conv and convTranspose; a number applies to both spatial axes. */
export interface ConvOptions {
  stride?: number | readonly number[];
  /** One number for all sides, [vertical, horizontal], or [top, left, bottom, right]. */
  pads?: number | readonly number[];
  dilation?: number | readonly number[];
  groups?: number;
}

export interface ConvTransposeOptions extends ConvOptions {
  outputPadding?: number | readonly number[];
}

function staticDim(d: Dim, what: string): number {
  if (typeof d !== 'number') throw new GraphError(`${what} must be static, got '${d}'`);
  return d;
}

function sameDim(a: Dim, b: Dim): boolean {
  return String(a) === String(b);
}

/** Checks the shared layout: x [N, C, H, W], weight rank 4, optional bias [outChannels]. */
function checkOperands(inputs: readonly Tensor[], outChannels: Dim): void {
  const [x, w, b] = inputs;
  if (x.rank !== 4) throw new GraphError(`input must be [batch, channels, height, width], got ${formatShape(x.shape)}`);
  if (w.rank !== 4) throw new GraphError(`weight must have rank 4, got ${formatShape(w.shape)}`);
  if (!isFloat(x.dtype)) throw new GraphError(`needs float tensors, got ${x.dtype}`);
  for (const t of inputs) if (t.dtype !== x.dtype) throw new GraphError(`dtypes ${x.dtype} and ${t.dtype} differ`);
  if (b && (b.rank !== 1 || !sameDim(b.shape[0], outChannels))) {
    throw new GraphError(`bias must be [${outChannels}] (one value per output channel), got ${formatShape(b.shape)}`);
  }
}

function convOutSize(size: number, k: number, s: number, d: number, p0: number, p1: number): number {
  return Math.floor((size + p0 + p1 - d * (k - 1) - 1) / s) + 1;
}

function convTransposeOutSize(size: number, k: number, s: number, d: number, p0: number, p1: number, op: number): number {
  return (size - 1) * s + d * (k - 1) + 1 - p0 - p1 + op;
}

function convShape(inputs: readonly Tensor[], a: ConvAttrs): OutputSpec[] {
  const [x, w] = inputs;
  checkOperands(inputs, w.shape[0]);
  const want = mulDims(w.shape[1], a.group);
  if (!sameDim(x.shape[1], want)) {
    throw new GraphError(
      `input has ${x.shape[1]} channels, but weight ${formatShape(w.shape)} with group ${a.group} expects ${want} (weight is [out, in/group, kh, kw])`,
    );
  }
  if (typeof w.shape[0] === 'number' && w.shape[0] % a.group !== 0) {
    throw new GraphError(`${w.shape[0]} output channels do not divide into ${a.group} groups`);
  }
  const out: Dim[] = [x.shape[0], w.shape[0]];
  for (let i = 0; i < 2; i++) {
    const size = staticDim(x.shape[2 + i], `input spatial dim ${i}`);
    const n = convOutSize(size, a.kernel[i], a.strides[i], a.dilations[i], a.pads[i], a.pads[i + 2]);
    if (n < 1) {
      throw new GraphError(
        `kernel ${a.kernel[i]} (dilation ${a.dilations[i]}) does not fit spatial dim ${i} of size ${size} with pads ${a.pads[i]}+${a.pads[i + 2]}`,
      );
    }
    out.push(n);
  }
  return [{ dtype: x.dtype, shape: out }];
}

function convTransposeShape(inputs: readonly Tensor[], a: ConvTransposeAttrs): OutputSpec[] {
  const [x, w] = inputs;
  const outChannels = mulDims(w.shape[1], a.group);
  checkOperands(inputs, outChannels);
  if (!sameDim(x.shape[1], w.shape[0])) {
    throw new GraphError(`input has ${x.shape[1]} channels, but weight ${formatShape(w.shape)} expects ${w.shape[0]} (weight is [in, out/group, kh, kw])`);
  }
  if (typeof w.shape[0] === 'number' && w.shape[0] % a.group !== 0) {
    throw new GraphError(`${w.shape[0]} input channels do not divide into ${a.group} groups`);
  }
  const out: Dim[] = [x.shape[0], outChannels];
  for (let i = 0; i < 2; i++) {
    const size = staticDim(x.shape[2 + i], `input spatial dim ${i}`);
    const op = a.outputPadding[i];
    if (op >= a.strides[i]) {
      throw new GraphError(`output padding ${op} must be smaller than the stride (${a.strides[i]}) of spatial dim ${i}`);
    }
    const n = convTransposeOutSize(size, a.kernel[i], a.strides[i], a.dilations[i], a.pads[i], a.pads[i + 2], op);
    if (n < 1) throw new GraphError(`pads ${a.pads[i]}+${a.pads[i + 2]} crop spatial dim ${i} below one element`);
    out.push(n);
  }
  return [{ dtype: x.dtype, shape: out }];
}

function convAttributes(a: ConvAttrs) {
  return [
    { name: 'kernel_shape', type: 'ints' as const, value: a.kernel },
    { name: 'strides', type: 'ints' as const, value: a.strides },
    { name: 'pads', type: 'ints' as const, value: a.pads },
    { name: 'dilations', type: 'ints' as const, value: a.dilations },
    { name: 'group', type: 'int' as const, value: a.group },
  ];
}

/**
 * The patches of x (im2col): [N, C, H, W] -> [N, C*kh*kw, Ho, Wo], channel c*kh*kw + i*kw + j holding the input
 * under kernel tap (i, j) at each output position. Every channel becomes an image of its own, [N*C, 1, H, W],
 * and one Conv with kh*kw one-hot kernels gives its taps as output channels; that was 10-15% faster than the
 * same as a depthwise Conv, and its constant does not grow with C. A 1x1 kernel at stride 1 without pads needs
 * none.
 */
function unfold(x: Tensor, a: ConvAttrs): Tensor {
  const [kh, kw] = a.kernel;
  const taps = kh * kw;
  if (taps === 1 && a.strides.every((v) => v === 1) && a.pads.every((v) => v === 0)) return x;
  const [c, h, w] = [1, 2, 3].map((i) => staticDim(x.shape[i], 'input dims'));
  const eye = new Array<number>(taps * taps).fill(0);
  for (let t = 0; t < taps; t++) eye[t * taps + t] = 1;
  const kernels = x.graph.constant(eye, { dtype: x.dtype, shape: [taps, 1, kh, kw] });
  const cols = applyConv(reshape(x, [-1, 1, h, w]), kernels, null, { ...a, group: 1 });
  return reshape(cols, [x.shape[0], c * taps, cols.shape[2], cols.shape[3]]);
}

/** x unfolded and split by group: [N, (groups,) C/groups*kh*kw, Ho*Wo], the group axis only when groups > 1. */
function groupedPatches(x: Tensor, a: ConvAttrs): Tensor {
  const c = staticDim(x.shape[1], 'input channels');
  const cols = unfold(x, a);
  const groupDims = a.group === 1 ? [] : [a.group];
  return reshape(cols, [x.shape[0], ...groupDims, (c / a.group) * a.kernel[0] * a.kernel[1], (cols.shape[2] as number) * (cols.shape[3] as number)]);
}

/**
 * Gradient of a convolution's weight from the patches of its input (`groupedPatches`) and gy [N, Cout, Ho, Wo],
 * the gradient of its output; the result is [Cout, Cin/g, kh, kw]. Per sample and group, the patches
 * [Cin/g*kh*kw, positions] times gy's transpose [positions, Cout/g] in one batched MatMul, summed over the
 * batch. Only gy is transposed, and by moving one axis, which onnxruntime's CPU provider does at memory speed
 * (and fuses into the MatMul at level 'all'); swapping the patches' last two axes (4-16x gy's size) instead made
 * the VAE step 1.7x slower (see graphs/README.md). Where Cout/g exceeds the positions (the innermost layers) the
 * per-sample products are larger than the patches, and one MatMul over batch and positions together wins.
 */
function convWeightGrad(patches: Tensor, gy: Tensor, a: ConvAttrs): Tensor {
  const g = a.group;
  const cout = staticDim(gy.shape[1], 'output channels');
  const [kh, kw] = a.kernel;
  const rows = patches.shape[patches.rank - 2] as number;
  const positions = patches.shape[patches.rank - 1];
  const groupDims = g === 1 ? [] : [g];
  const perGroup = reshape(gy, [gy.shape[0], ...groupDims, cout / g, positions]);
  let dw: Tensor;
  if (cout / g > (positions as number)) {
    // Per-sample products would outweigh the patches: move the batch axis next to the positions (whole rows
    // move, at memory speed) and contract over both in one MatMul, with no sum over the batch after it.
    const moved = reshape(transpose(patches, g === 1 ? [1, 0, 2] : [1, 2, 0, 3]), [...groupDims, rows, -1]);
    const grads = reshape(transpose(perGroup, g === 1 ? [0, 2, 1] : [1, 0, 3, 2]), [...groupDims, -1, cout / g]);
    dw = transpose(matmul(moved, grads), g === 1 ? [1, 0] : [0, 2, 1]);
  } else {
    dw = transpose(reduceSum(matmul(patches, transpose(perGroup, g === 1 ? [0, 2, 1] : [0, 1, 3, 2])), [0]), g === 1 ? [1, 0] : [0, 2, 1]);
  }
  return reshape(dw, [cout, rows / (kh * kw), kh, kw]);
}

export const Conv = defineOp<ConvAttrs>({
  type: 'Conv',
  shape: convShape,
  encode: (a) => ({ attributes: convAttributes(a) }),
  grad: ({ inputs: [x, w, b], grads: [gy], attrs: a, wants }) => {
    const g = gy as Tensor;
    let dx: Tensor | null = null;
    if (wants[0]) {
      const outputPadding: Pair = [0, 0];
      for (let i = 0; i < 2; i++) {
        const full = convTransposeOutSize(g.shape[2 + i] as number, a.kernel[i], a.strides[i], a.dilations[i], a.pads[i], a.pads[i + 2], 0);
        outputPadding[i] = (x.shape[2 + i] as number) - full;
      }
      dx = applyConvTranspose(g, w, null, { ...a, outputPadding });
    }
    const dw = wants[1] ? convWeightGrad(groupedPatches(x, a), g, a) : null;
    const db = b && wants[2] ? reduceSum(g, [0, 2, 3]) : null;
    return b ? [dx, dw, db] : [dx, dw];
  },
});

export const ConvTranspose = defineOp<ConvTransposeAttrs>({
  type: 'ConvTranspose',
  shape: convTransposeShape,
  encode: (a) => ({ attributes: [...convAttributes(a), { name: 'output_padding', type: 'ints', value: a.outputPadding }] }),
  grad: ({ inputs: [x, w, b], grads: [gy], attrs: a, wants }) => {
    const g = gy as Tensor;
    const conv = { kernel: a.kernel, strides: a.strides, pads: a.pads, dilations: a.dilations, group: a.group };
    const db = b && wants[2] ? reduceSum(g, [0, 2, 3]) : null;
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    if (wants[1]) {
      // Both gradients read gy's patches: the input's is then one MatMul with the kernels, not a second unfold inside a Conv.
      const patches = groupedPatches(g, conv);
      dw = convWeightGrad(patches, x, conv);
      if (wants[0]) {
        const kernels = reshape(w, [...(a.group === 1 ? [] : [a.group]), (x.shape[1] as number) / a.group, patches.shape[patches.rank - 2]]);
        dx = reshape(matmul(kernels, patches), x.shape);
      }
    } else if (wants[0]) {
      dx = applyConv(g, w, null, conv);
    }
    return b ? [dx, dw, db] : [dx, dw];
  },
});

function applyConv(x: Tensor, w: Tensor, b: Tensor | null, a: ConvAttrs): Tensor {
  return x.graph.apply(Conv, b ? [x, w, b] : [x, w], a)[0];
}

function applyConvTranspose(x: Tensor, w: Tensor, b: Tensor | null, a: ConvTransposeAttrs): Tensor {
  return x.graph.apply(ConvTranspose, b ? [x, w, b] : [x, w], a)[0];
}

function pair(v: number | readonly number[] | undefined, fallback: number, what: string): Pair {
  const list = v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v, v] : [...v];
  if (list.length !== 2 || list.some((n) => !Number.isInteger(n))) {
    throw new GraphError(`${what} must be an integer or two integers [vertical, horizontal], got ${JSON.stringify(v)}`);
  }
  return [list[0], list[1]];
}

function quad(v: number | readonly number[] | undefined): Quad {
  const list = v === undefined ? [0] : typeof v === 'number' ? [v] : [...v];
  if (list.some((n) => !Number.isInteger(n) || n < 0)) throw new GraphError(`pads must be non-negative integers, got ${JSON.stringify(v)}`);
  if (list.length === 1) return [list[0], list[0], list[0], list[0]];
  if (list.length === 2) return [list[0], list[1], list[0], list[1]];
  if (list.length === 4) return [list[0], list[1], list[2], list[3]];
  throw new GraphError(`pads must be one number, [vertical, horizontal] or [top, left, bottom, right], got ${JSON.stringify(v)}`);
}

function convAttrs(w: Tensor, opts: ConvOptions, what: string): ConvAttrs {
  if (w.rank !== 4) throw new GraphError(`${what}: weight must have rank 4, got ${w.toString()}`);
  const kernel: Pair = [staticDim(w.shape[2], `${what}: kernel height`), staticDim(w.shape[3], `${what}: kernel width`)];
  const strides = pair(opts.stride, 1, `${what}: stride`);
  const dilations = pair(opts.dilation, 1, `${what}: dilation`);
  const group = opts.groups ?? 1;
  if ([...strides, ...dilations].some((v) => v < 1)) throw new GraphError(`${what}: stride and dilation must be at least 1`);
  if (!Number.isInteger(group) || group < 1) throw new GraphError(`${what}: groups must be a positive integer, got ${group}`);
  return { kernel, strides, pads: quad(opts.pads), dilations, group };
}

/**
 * 2-D convolution (cross-correlation, as ONNX Conv): x [N, C, H, W], weight [M, C/groups, kh, kw], optional bias
 * [M]; gives [N, M, Ho, Wo]. One Conv node in float32; float64 graphs (gradient checks) compose it from Pad,
 * Slice, Concat and MatMul, which onnxruntime runs in float64.
 */
export function conv(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: ConvOptions = {}): Tensor {
  const a = convAttrs(weight, opts, 'conv');
  if (x.dtype !== 'float64') return applyConv(x, weight, bias, a);
  return composedConv(x, weight, bias, a, checkedShape(Conv, bias ? [x, weight, bias] : [x, weight], a));
}

/**
 * Runs an op's shape rule without recording a node, with the builder's error context; float64 convolutions are
 * composed of other ops, but their operands are checked like a Conv node's.
 */
function checkedShape<A>(op: OpDef<A>, inputs: Tensor[], attrs: A): Dim[] {
  const g = inputs[0].graph;
  try {
    return op.shape(inputs, attrs)[0].shape;
  } catch (err) {
    if (!(err instanceof GraphError)) throw err;
    const where = g.scopePath === '' ? '' : ` in scope '${g.scopePath}'`;
    throw new GraphError(`${op.name}${where}: ${err.message} (inputs: ${inputs.map((t) => t.toString()).join(', ')})`);
  }
}

/**
 * 2-D transposed convolution (ONNX ConvTranspose, the gradient of conv with respect to its input): x [N, C, H, W],
 * weight [C, M/groups, kh, kw], optional bias [M]; Ho = (H-1)*stride + dilation*(kh-1) + 1 - padTop - padBottom +
 * outputPadding. One ConvTranspose node in float32, composed in float64 like conv.
 */
export function convTranspose(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: ConvTransposeOptions = {}): Tensor {
  const a = convAttrs(weight, opts, 'convTranspose');
  const outputPadding = pair(opts.outputPadding, 0, 'convTranspose: outputPadding');
  if (outputPadding.some((v) => v < 0)) throw new GraphError('convTranspose: outputPadding must be non-negative');
  const attrs = { ...a, outputPadding };
  if (x.dtype !== 'float64') return applyConvTranspose(x, weight, bias, attrs);
  return composedConvTranspose(x, weight, bias, attrs, checkedShape(ConvTranspose, bias ? [x, weight, bias] : [x, weight], attrs));
}
