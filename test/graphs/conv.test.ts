/** @file Conv and ConvTranspose: shapes, errors, and float32 gradients against float64 differences of direct-loop references. */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../graphs/graph.js';
import { conv2d, convTranspose2d } from '../../graphs/layers/conv.js';
import { Rng } from '../../graphs/init.js';
import { type ConvTransposeOptions, conv, convTranspose } from '../../graphs/ops/conv.js';
import { add, mul } from '../../graphs/ops/elementwise.js';
import { reduceSum } from '../../graphs/ops/reduce.js';
import { Runner } from '../../graphs/runner.js';
import { encodeModel, toModel } from '../../graphs/serialize.js';
import type { Tensor } from '../../graphs/tensor.js';
import { checkAgainstReference, checkGradients, f32, f64 } from './gradcheck.js';

/** A fully resolved 2-D geometry, written out for the reference loops. */
interface Geometry {
  stride: [number, number];
  dilation: [number, number];
  /** [top, left, bottom, right] */
  pads: [number, number, number, number];
  groups: number;
  outputPadding: [number, number];
}

interface Case {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  geo: Geometry;
}

function geometry(o: Partial<Geometry>): Geometry {
  return { stride: [1, 1], dilation: [1, 1], pads: [0, 0, 0, 0], groups: 1, outputPadding: [0, 0], ...o };
}

function options(geo: Geometry): ConvTransposeOptions {
  return { stride: geo.stride, dilation: geo.dilation, pads: geo.pads, groups: geo.groups };
}

/** Direct cross-correlation: out[n, m, oh, ow] = b[m] + sum x[n, group(m)*Cg + c, oh*s - p + i*d, ...] * w[m, c, i, j]. */
function referenceConv(x: Float64Array, w: Float64Array, b: Float64Array | null, xs: number[], ws: number[], geo: Geometry) {
  const [n, cIn, h, wd] = xs;
  const [m, cg, kh, kw] = ws;
  const mg = m / geo.groups;
  const ho = Math.floor((h + geo.pads[0] + geo.pads[2] - geo.dilation[0] * (kh - 1) - 1) / geo.stride[0]) + 1;
  const wo = Math.floor((wd + geo.pads[1] + geo.pads[3] - geo.dilation[1] * (kw - 1) - 1) / geo.stride[1]) + 1;
  const out = new Float64Array(n * m * ho * wo);
  for (let bi = 0; bi < n; bi++) {
    for (let oc = 0; oc < m; oc++) {
      const grp = Math.floor(oc / mg);
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          let acc = b ? b[oc] : 0;
          for (let c = 0; c < cg; c++) {
            for (let i = 0; i < kh; i++) {
              const iy = oy * geo.stride[0] - geo.pads[0] + i * geo.dilation[0];
              if (iy < 0 || iy >= h) continue;
              for (let j = 0; j < kw; j++) {
                const ix = ox * geo.stride[1] - geo.pads[1] + j * geo.dilation[1];
                if (ix < 0 || ix >= wd) continue;
                acc += x[((bi * cIn + grp * cg + c) * h + iy) * wd + ix] * w[((oc * cg + c) * kh + i) * kw + j];
              }
            }
          }
          out[((bi * m + oc) * ho + oy) * wo + ox] = acc;
        }
      }
    }
  }
  return { out, shape: [n, m, ho, wo] };
}

/** Direct transposed convolution: every input pixel scatters its kernel-weighted values into the output. */
function referenceConvTranspose(x: Float64Array, w: Float64Array, b: Float64Array | null, xs: number[], ws: number[], geo: Geometry) {
  const [n, c, h, wd] = xs;
  const [, mg, kh, kw] = ws;
  const cg = c / geo.groups;
  const m = mg * geo.groups;
  const ho = (h - 1) * geo.stride[0] + geo.dilation[0] * (kh - 1) + 1 - geo.pads[0] - geo.pads[2] + geo.outputPadding[0];
  const wo = (wd - 1) * geo.stride[1] + geo.dilation[1] * (kw - 1) + 1 - geo.pads[1] - geo.pads[3] + geo.outputPadding[1];
  const out = new Float64Array(n * m * ho * wo);
  for (let bi = 0; bi < n; bi++) {
    for (let oc = 0; oc < m; oc++) {
      for (let p = 0; p < ho * wo; p++) out[(bi * m + oc) * ho * wo + p] = b ? b[oc] : 0;
    }
    for (let ic = 0; ic < c; ic++) {
      const grp = Math.floor(ic / cg);
      for (let iy = 0; iy < h; iy++) {
        for (let ix = 0; ix < wd; ix++) {
          const v = x[((bi * c + ic) * h + iy) * wd + ix];
          for (let o = 0; o < mg; o++) {
            const oc = grp * mg + o;
            for (let i = 0; i < kh; i++) {
              const oy = iy * geo.stride[0] - geo.pads[0] + i * geo.dilation[0];
              if (oy < 0 || oy >= ho) continue;
              for (let j = 0; j < kw; j++) {
                const ox = ix * geo.stride[1] - geo.pads[1] + j * geo.dilation[1];
                if (ox < 0 || ox >= wo) continue;
                out[((bi * m + oc) * ho + oy) * wo + ox] += v * w[((ic * mg + o) * kh + i) * kw + j];
              }
            }
          }
        }
      }
    }
  }
  return { out, shape: [n, m, ho, wo] };
}

/** Seeded weights of the test loss, so the loss mixes every output element differently. */
function lossWeights(size: number): Float64Array {
  const rng = new Rng(size);
  return Float64Array.from({ length: size }, () => rng.uniform() * 2 - 1);
}

/** loss = sum(r * y) + 0.1 * sum(y * y), in the graph; r is one sample's worth of weights, shared over the batch. */
function graphLoss(g: Graph, y: Tensor): Tensor {
  const shape = [1, ...(y.shape.slice(1) as number[])];
  const r = g.constant(lossWeights(shape.reduce((a, b) => a * b, 1)), { shape });
  return add(reduceSum(mul(y, r)), mul(reduceSum(mul(y, y)), 0.1));
}

/** The same loss on the reference output of `batch` samples. */
function referenceLoss(y: Float64Array, batch: number): number {
  const r = lossWeights(y.length / batch);
  let s = 0;
  let q = 0;
  for (let i = 0; i < y.length; i++) {
    s += r[i % r.length] * y[i];
    q += y[i] * y[i];
  }
  return s + 0.1 * q;
}

const convCases: Case[] = [
  { name: 'stride 1, pads 0', x: [2, 3, 6, 6], w: [4, 3, 3, 3], geo: geometry({}) },
  { name: '1x1 kernel, groups 2', x: [2, 4, 3, 5], w: [6, 2, 1, 1], geo: geometry({ groups: 2 }) },
  { name: '1x1 kernel, stride 2', x: [2, 3, 5, 5], w: [2, 3, 1, 1], geo: geometry({ stride: [2, 2] }) },
  { name: 'stride 2, pads 1, odd size', x: [2, 3, 7, 7], w: [4, 3, 3, 3], geo: geometry({ stride: [2, 2], pads: [1, 1, 1, 1] }) },
  { name: 'stride 2, pads 1, kernel 4 (encoder)', x: [2, 3, 8, 8], w: [4, 3, 4, 4], geo: geometry({ stride: [2, 2], pads: [1, 1, 1, 1] }) },
  { name: 'dilation 2, pads 1', x: [2, 2, 7, 6], w: [3, 2, 3, 3], geo: geometry({ dilation: [2, 2], pads: [1, 1, 1, 1] }) },
  { name: 'groups 2, stride 2, pads 1', x: [2, 4, 6, 6], w: [6, 2, 3, 3], geo: geometry({ groups: 2, stride: [2, 2], pads: [1, 1, 1, 1] }) },
  {
    name: 'groups 2, dilation 2, stride 2, uneven pads, 2x3 kernel',
    x: [2, 4, 9, 8],
    w: [4, 2, 2, 3],
    geo: geometry({ groups: 2, dilation: [2, 2], stride: [2, 1], pads: [0, 1, 1, 0] }),
  },
  // More output channels per group than output positions: the weight gradient contracts batch and positions at once.
  { name: 'few positions, many channels', x: [2, 3, 4, 4], w: [8, 3, 3, 3], geo: geometry({ stride: [2, 2], pads: [1, 1, 1, 1] }) },
  { name: 'few positions, many channels, groups 2', x: [2, 4, 4, 4], w: [10, 2, 3, 3], geo: geometry({ groups: 2, stride: [2, 2], pads: [1, 1, 1, 1] }) },
];

const convTransposeCases: Case[] = [
  { name: 'stride 2, pads 1, kernel 4 (decoder)', x: [2, 4, 4, 4], w: [4, 3, 4, 4], geo: geometry({ stride: [2, 2], pads: [1, 1, 1, 1] }) },
  {
    name: 'stride 2, pads 1, output padding 1',
    x: [2, 3, 4, 4],
    w: [3, 2, 3, 3],
    geo: geometry({ stride: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 1] }),
  },
  { name: 'stride 1, pads 0, dilation 2', x: [2, 3, 4, 5], w: [3, 2, 3, 3], geo: geometry({ dilation: [2, 2] }) },
  { name: 'groups 2, stride 2, pads 0', x: [2, 4, 3, 3], w: [4, 1, 3, 3], geo: geometry({ groups: 2, stride: [2, 2] }) },
  {
    name: 'groups 2, stride 2, dilation 2, output padding [1,0], 3x2 kernel',
    x: [2, 4, 3, 4],
    w: [4, 3, 3, 2],
    geo: geometry({ groups: 2, stride: [2, 2], dilation: [2, 1], pads: [1, 0, 0, 1], outputPadding: [1, 0] }),
  },
  { name: 'few positions, many channels', x: [2, 6, 2, 2], w: [6, 3, 4, 4], geo: geometry({ stride: [2, 2], pads: [1, 1, 1, 1] }) },
  { name: 'few positions, many channels, groups 2', x: [2, 10, 2, 2], w: [10, 2, 3, 3], geo: geometry({ groups: 2, stride: [2, 2] }) },
];

function seeded(shape: readonly number[], seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
}

describe('conv gradients (float32 graph vs float64 reference differences)', () => {
  for (const c of convCases) {
    it(c.name, async () => {
      const ms = c.w[0];
      const r = await checkAgainstReference(
        (g) => {
          const x = g.input('x', 'float32', ['batch', ...c.x.slice(1)]);
          const w = g.input('w', 'float32', c.w);
          const b = g.input('b', 'float32', [ms]);
          const y = conv(x, w, b, options(c.geo));
          return { loss: graphLoss(g, y), wrt: [x, w, b] };
        },
        (v) => referenceLoss(referenceConv(v.x, v.w, v.b, c.x, c.w, c.geo).out, c.x[0]),
        { x: f32(seeded(c.x, 1), c.x), w: f32(seeded(c.w, 2), c.w), b: f32(seeded([ms], 3), [ms]) },
      );
      expect(r.maxError).toBeLessThan(1e-3);
    });
  }
});

describe('convTranspose gradients (float32 graph vs float64 reference differences)', () => {
  for (const c of convTransposeCases) {
    it(c.name, async () => {
      const ms = c.w[1] * c.geo.groups;
      const r = await checkAgainstReference(
        (g) => {
          const x = g.input('x', 'float32', ['batch', ...c.x.slice(1)]);
          const w = g.input('w', 'float32', c.w);
          const b = g.input('b', 'float32', [ms]);
          const y = convTranspose(x, w, b, { ...options(c.geo), outputPadding: c.geo.outputPadding });
          return { loss: graphLoss(g, y), wrt: [x, w, b] };
        },
        (v) => referenceLoss(referenceConvTranspose(v.x, v.w, v.b, c.x, c.w, c.geo).out, c.x[0]),
        { x: f32(seeded(c.x, 4), c.x), w: f32(seeded(c.w, 5), c.w), b: f32(seeded([ms], 6), [ms]) },
      );
      expect(r.maxError).toBeLessThan(1e-3);
    });
  }
});

describe('one gradient at a time (each takes its own path: the input\'s alone, the weight\'s alone, or both sharing one unfold)', () => {
  const picks = [
    ['input', 'x'],
    ['weight', 'w'],
  ] as const;
  for (const c of [convCases[4], convCases[7]]) {
    for (const [what, name] of picks) {
      it(`conv, ${c.name}: ${what} only`, async () => {
        const ms = c.w[0];
        const r = await checkAgainstReference(
          (g) => {
            const x = g.input('x', 'float32', ['batch', ...c.x.slice(1)]);
            const w = g.input('w', 'float32', c.w);
            const b = g.input('b', 'float32', [ms]);
            return { loss: graphLoss(g, conv(x, w, b, options(c.geo))), wrt: [name === 'x' ? x : w] };
          },
          (v) => referenceLoss(referenceConv(v.x, v.w, v.b, c.x, c.w, c.geo).out, c.x[0]),
          { x: f32(seeded(c.x, 1), c.x), w: f32(seeded(c.w, 2), c.w), b: f32(seeded([ms], 3), [ms]) },
        );
        expect(r.maxError).toBeLessThan(1e-3);
      });
    }
  }
  for (const c of [convTransposeCases[0], convTransposeCases[4]]) {
    for (const [what, name] of picks) {
      it(`convTranspose, ${c.name}: ${what} only`, async () => {
        const ms = c.w[1] * c.geo.groups;
        const r = await checkAgainstReference(
          (g) => {
            const x = g.input('x', 'float32', ['batch', ...c.x.slice(1)]);
            const w = g.input('w', 'float32', c.w);
            const b = g.input('b', 'float32', [ms]);
            const y = convTranspose(x, w, b, { ...options(c.geo), outputPadding: c.geo.outputPadding });
            return { loss: graphLoss(g, y), wrt: [name === 'x' ? x : w] };
          },
          (v) => referenceLoss(referenceConvTranspose(v.x, v.w, v.b, c.x, c.w, c.geo).out, c.x[0]),
          { x: f32(seeded(c.x, 4), c.x), w: f32(seeded(c.w, 5), c.w), b: f32(seeded([ms], 6), [ms]) },
        );
        expect(r.maxError).toBeLessThan(1e-3);
      });
    }
  }
});

/** Runs a float64 graph built by `build` on x, w, b and returns its single output. */
async function runFloat64(build: (x: Tensor, w: Tensor, b: Tensor) => Tensor, c: Case, ms: number): Promise<Float64Array> {
  const g = new Graph({ floatType: 'float64' });
  const y = build(g.input('x', 'float64', ['batch', ...c.x.slice(1)]), g.input('w', 'float64', c.w), g.input('b', 'float64', [ms]));
  const runner = await Runner.create(encodeModel(toModel(g, { outputs: { y } })));
  const out = await runner.run({ x: f64(seeded(c.x, 1), c.x), w: f64(seeded(c.w, 2), c.w), b: f64(seeded([ms], 3), [ms]) });
  await runner.dispose();
  return out.y.data as Float64Array;
}

describe('float64 composition (Pad, Slice, Concat, MatMul): values against the references, gradients against differences', () => {
  for (const c of convCases) {
    it(`conv, ${c.name}`, async () => {
      const ms = c.w[0];
      const y = await runFloat64((x, w, b) => conv(x, w, b, options(c.geo)), c, ms);
      const ref = referenceConv(Float64Array.from(seeded(c.x, 1)), Float64Array.from(seeded(c.w, 2)), Float64Array.from(seeded([ms], 3)), c.x, c.w, c.geo);
      expect(y.length).toBe(ref.out.length);
      y.forEach((v, i) => expect(v).toBeCloseTo(ref.out[i], 10));
      const r = await checkGradients((g) => {
        const x = g.input('x', 'float64', c.x);
        const w = g.input('w', 'float64', c.w);
        const b = g.input('b', 'float64', [ms]);
        return { loss: graphLoss(g, conv(x, w, b, options(c.geo))), wrt: [x, w, b] };
      });
      expect(r.maxError).toBeLessThan(1e-6);
    });
  }
  for (const c of convTransposeCases) {
    it(`convTranspose, ${c.name}`, async () => {
      const ms = c.w[1] * c.geo.groups;
      const opts = { ...options(c.geo), outputPadding: c.geo.outputPadding };
      const y = await runFloat64((x, w, b) => convTranspose(x, w, b, opts), c, ms);
      const ref = referenceConvTranspose(Float64Array.from(seeded(c.x, 1)), Float64Array.from(seeded(c.w, 2)), Float64Array.from(seeded([ms], 3)), c.x, c.w, c.geo);
      expect(y.length).toBe(ref.out.length);
      y.forEach((v, i) => expect(v).toBeCloseTo(ref.out[i], 10));
      const r = await checkGradients((g) => {
        const x = g.input('x', 'float64', c.x);
        const w = g.input('w', 'float64', c.w);
        const b = g.input('b', 'float64', [ms]);
        return { loss: graphLoss(g, convTranspose(x, w, b, opts)), wrt: [x, w, b] };
      });
      expect(r.maxError).toBeLessThan(1e-6);
    });
  }

  it('checks float64 operands like the Conv node does', () => {
    const g = new Graph({ floatType: 'float64' });
    const x = g.input('x', 'float64', ['batch', 3, 8, 8]);
    g.scope('enc', () => expect(() => conv(x, g.param('w', [4, 2, 3, 3], 'zeros'))).toThrow(/Conv in scope 'enc': input has 3 channels/));
  });
});

describe('conv shapes', () => {
  it('computes output shapes like the references, keeping the symbolic batch', () => {
    const g = new Graph();
    for (const c of convCases) {
      const y = conv(g.input(`x_${c.name}`, 'float32', ['batch', ...c.x.slice(1)]), g.param(`w${convCases.indexOf(c)}`, c.w, 'zeros'), null, options(c.geo));
      const ref = referenceConv(new Float64Array(c.x.reduce((a, b) => a * b)), new Float64Array(c.w.reduce((a, b) => a * b)), null, c.x, c.w, c.geo);
      expect(y.shape).toEqual(['batch', ...ref.shape.slice(1)]);
    }
  });

  it('names both channel counts when input and weight disagree', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 3, 8, 8]);
    const w = g.param('w', [4, 2, 3, 3], 'zeros');
    expect(() => conv(x, w)).toThrow(/input has 3 channels, but weight \[4,2,3,3\] with group 1 expects 2/);
  });

  it('rejects a kernel larger than the padded input, naming the dim', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 1, 2, 8]);
    const w = g.param('w', [1, 1, 3, 3], 'zeros');
    expect(() => conv(x, w)).toThrow(/kernel 3 \(dilation 1\) does not fit spatial dim 0 of size 2/);
  });

  it('rejects an output padding not smaller than the stride', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 2, 4, 4]);
    const w = g.param('w', [2, 2, 3, 3], 'zeros');
    expect(() => convTranspose(x, w, null, { stride: 2, outputPadding: 2 })).toThrow(/output padding 2 must be smaller than the stride \(2\)/);
    expect(() => convTranspose(x, w, null, { dilation: 2, outputPadding: 1 })).toThrow(/output padding 1 must be smaller than the stride \(1\) of spatial dim 0/);
    expect(convTranspose(x, w, null, { stride: 2, pads: 1, outputPadding: 1 }).shape).toEqual(['batch', 2, 8, 8]);
  });

  it('rejects bad options before building', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 2, 4, 4]);
    const w = g.param('w', [2, 2, 3, 3], 'zeros');
    expect(() => conv(x, w, null, { pads: [1, 2, 3] })).toThrow(/pads must be one number/);
    expect(() => conv(x, w, null, { groups: 0 })).toThrow(/groups must be a positive integer/);
    expect(() => conv(x, w, null, { stride: 0 })).toThrow(/stride and dilation must be at least 1/);
  });
});

describe('conv layers', () => {
  it('conv2d names its parameters, draws Kaiming-uniform kernels and computes the output shape', () => {
    const g = new Graph({ seed: 3 });
    const x = g.input('x', 'float32', ['batch', 3, 64, 64]);
    const y = g.scope('encoder', () => conv2d('conv1', x, { filters: 32, kernel: 4, stride: 2, pads: 1 }));
    expect(y.shape).toEqual(['batch', 32, 32, 32]);
    expect(g.params.map((p) => `${p.name}[${p.shape}]`)).toEqual(['encoder.conv1.weight[32,3,4,4]', 'encoder.conv1.bias[32]']);
    const w = g.paramValues().get('encoder.conv1.weight') as Float32Array;
    const bound = Math.SQRT2 * Math.sqrt(3 / (3 * 16));
    const max = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(max).toBeLessThanOrEqual(bound);
    expect(max).toBeGreaterThan(0.9 * bound);
    const variance = w.reduce((s, v) => s + v * v, 0) / w.length;
    expect(variance).toBeCloseTo((bound * bound) / 3, 2);
    expect(Array.from(g.paramValues().get('encoder.conv1.bias') as Float32Array).every((v) => v === 0)).toBe(true);
  });

  it('convTranspose2d lays its kernel out [in, out/groups, kh, kw] and upsamples by the stride', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 8, 4, 4]);
    const y = convTranspose2d('up', x, { filters: 6, kernel: 3, stride: 2, pads: 1, outputPadding: 1, groups: 2, bias: false });
    expect(y.shape).toEqual(['batch', 6, 8, 8]);
    expect(g.params.map((p) => `${p.name}[${p.shape}]`)).toEqual(['up.weight[8,3,3,3]']);
  });

  it('rejects channels that do not divide into the groups, naming the layer', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 3, 8, 8]);
    expect(() => conv2d('c', x, { filters: 4, kernel: 3, groups: 2 })).toThrow(/conv layer 'c': 3 input channels and 4 filters must both divide into 2 groups/);
    expect(() => conv2d('c', g.input('v', 'float32', ['batch', 8]), { filters: 4, kernel: 3 })).toThrow(/conv layer 'c': input must be \[batch, channels, height, width\]/);
  });
});
