/** @file Seeded parameter initializers (zeros to orthogonal) and the small PRNG behind them. */
import { GraphError } from './errors.js';
import type { FloatType } from './tensor.js';

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counter, 128-bit state, passes PractRand), seeded through a
 * murmur3 finalizer so that nearby seeds give unrelated streams.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.a = fmix32(seed ^ 0x9e3779b9);
    this.b = fmix32(this.a ^ 0x85ebca6b);
    this.c = fmix32(this.b ^ 0xc2b2ae35);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** The generator of one parameter: depends only on the graph seed and the parameter path. */
  static forPath(seed: number, path: string): Rng {
    let h = 0x811c9dc5;
    for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 0x01000193);
    const high = Math.floor(seed / 0x100000000) >>> 0;
    return new Rng(fmix32(h ^ fmix32((seed >>> 0) ^ fmix32(high))));
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Fan mode of the Kaiming initializers. */
export type FanMode = 'fanIn' | 'fanOut';

/** A parameter initializer. `gain` defaults: 1 for Xavier and orthogonal, sqrt(2) (ReLU) for Kaiming. */
export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number }
  | { kind: 'uniform'; low: number; high: number }
  | { kind: 'normal'; std: number; mean: number }
  | { kind: 'xavierUniform'; gain: number }
  | { kind: 'xavierNormal'; gain: number }
  | { kind: 'kaimingUniform'; gain: number; mode: FanMode }
  | { kind: 'kaimingNormal'; gain: number; mode: FanMode }
  | { kind: 'orthogonal'; gain: number }
  | { kind: 'orthogonalBlocks'; gain: number; blocks: number }
  | { kind: 'values'; values: ArrayLike<number> };

/** An initializer, or the name of one with default settings. */
export type InitSpec =
  | Init
  | 'zeros'
  | 'ones'
  | 'xavierUniform'
  | 'xavierNormal'
  | 'kaimingUniform'
  | 'kaimingNormal'
  | 'orthogonal';

/** Constructors of the initializers. */
export const init = {
  zeros: (): Init => ({ kind: 'zeros' }),
  ones: (): Init => ({ kind: 'ones' }),
  constant: (value: number): Init => ({ kind: 'constant', value }),
  uniform: (low: number, high: number): Init => ({ kind: 'uniform', low, high }),
  normal: (std: number, mean = 0): Init => ({ kind: 'normal', std, mean }),
  xavierUniform: (gain = 1): Init => ({ kind: 'xavierUniform', gain }),
  xavierNormal: (gain = 1): Init => ({ kind: 'xavierNormal', gain }),
  kaimingUniform: (opts: { gain?: number; mode?: FanMode } = {}): Init => ({
    kind: 'kaimingUniform',
    gain: opts.gain ?? Math.SQRT2,
    mode: opts.mode ?? 'fanIn',
  }),
  kaimingNormal: (opts: { gain?: number; mode?: FanMode } = {}): Init => ({
    kind: 'kaimingNormal',
    gain: opts.gain ?? Math.SQRT2,
    mode: opts.mode ?? 'fanIn',
  }),
  orthogonal: (gain = 1): Init => ({ kind: 'orthogonal', gain }),
  /**
   * A matrix [rows, cols] cut into `blocks` column blocks of equal width, each orthogonal on its own: block k is
   * drawn from the generator of `<path>#gate<k>` (a recurrent weight's gate blocks, hence the name).
   */
  orthogonalBlocks: (blocks: number, gain = 1): Init => ({ kind: 'orthogonalBlocks', gain, blocks }),
  /** Explicit values, row-major. */
  values: (values: ArrayLike<number>): Init => ({ kind: 'values', values }),
};

/** The initializer a spec names, with its default settings filled in. */
export function resolveInit(spec: InitSpec): Init {
  if (typeof spec !== 'string') return spec;
  const make = init[spec] as () => Init;
  return make();
}

/**
 * Checks that an initializer fits a shape, without drawing values: what `initValues` and `paramValues` would
 * refuse is refused here, when the parameter is declared.
 */
export function checkInit(it: Init, shape: readonly number[], where: string): void {
  const size = shape.reduce((a, b) => a * b, 1);
  if ((it.kind === 'orthogonal' || it.kind === 'orthogonalBlocks') && shape.length < 2) {
    throw new GraphError(`orthogonal init of ${where} needs a weight of rank 2 or more, got [${shape.join(',')}]`);
  }
  if (it.kind === 'orthogonalBlocks' && (shape.length !== 2 || !Number.isInteger(it.blocks) || it.blocks < 1 || shape[1] % it.blocks !== 0)) {
    throw new GraphError(`orthogonal blocks init of ${where}: ${it.blocks} blocks must divide the columns of a matrix, got [${shape.join(',')}]`);
  }
  if (it.kind === 'values' && it.values.length !== size) {
    throw new GraphError(`init values for ${where} have ${it.values.length} elements, but its shape [${shape.join(',')}] holds ${size}`);
  }
}

/** An initializer as plain JSON (explicit values as a list), for the io description of compiled artifacts. */
export function initToJson(it: Init): Init {
  return it.kind === 'values' ? { kind: 'values', values: Array.from(it.values) } : { ...it };
}

/**
 * The initial values of the parameter at `path` for a seed: drawn from a generator seeded by (seed, path), so that
 * adding a parameter never changes the others and the values need nothing but the initializer, the shape and
 * the path. The graph builder and `initialParams` (compiled artifacts) both come here.
 */
export function paramValues(it: Init, shape: readonly number[], floatType: FloatType, seed: number, path: string): Float32Array | Float64Array {
  const where = `parameter "${path}"`;
  if (it.kind !== 'orthogonalBlocks') return initValues(it, shape, floatType, Rng.forPath(seed, path), where);
  checkInit(it, shape, where);
  const [rows, cols] = shape;
  const width = cols / it.blocks;
  const out = floatType === 'float32' ? new Float32Array(rows * cols) : new Float64Array(rows * cols);
  for (let k = 0; k < it.blocks; k++) {
    const block = initValues({ kind: 'orthogonal', gain: it.gain }, [rows, width], 'float64', Rng.forPath(seed, `${path}#gate${k}`), where);
    for (let r = 0; r < rows; r++) out.set(block.subarray(r * width, (r + 1) * width), r * cols + k * width);
  }
  return out;
}

/**
 * Fan-in and fan-out of a weight. A 2-D weight is laid out [in, out] (it multiplies as `x @ W`); a weight of
 * rank 3 or more is a convolution kernel [out, in/groups, k...]; a 1-D one has fan-in = fan-out = its length.
 */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  if (shape.length === 2) return { fanIn: shape[0], fanOut: shape[1] };
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i];
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** Computes the initial values of a parameter of a static shape; `where` names it in errors. */
export function initValues(
  spec: InitSpec,
  shape: readonly number[],
  floatType: FloatType,
  rng: Rng,
  where: string,
): Float32Array | Float64Array {
  const it = resolveInit(spec);
  checkInit(it, shape, where);
  let size = 1;
  for (const d of shape) size *= d;
  const out = floatType === 'float32' ? new Float32Array(size) : new Float64Array(size);
  const { fanIn, fanOut } = fans(shape);
  const fill = (f: () => number): void => {
    for (let i = 0; i < size; i++) out[i] = f();
  };
  switch (it.kind) {
    case 'zeros':
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'constant':
      out.fill(it.value);
      break;
    case 'uniform':
      fill(() => it.low + (it.high - it.low) * rng.uniform());
      break;
    case 'normal':
      fill(() => it.mean + it.std * rng.normal());
      break;
    case 'xavierUniform': {
      const bound = it.gain * Math.sqrt(6 / (fanIn + fanOut));
      fill(() => bound * (2 * rng.uniform() - 1));
      break;
    }
    case 'xavierNormal': {
      const std = it.gain * Math.sqrt(2 / (fanIn + fanOut));
      fill(() => std * rng.normal());
      break;
    }
    case 'kaimingUniform': {
      const bound = it.gain * Math.sqrt(3 / (it.mode === 'fanIn' ? fanIn : fanOut));
      fill(() => bound * (2 * rng.uniform() - 1));
      break;
    }
    case 'kaimingNormal': {
      const std = it.gain / Math.sqrt(it.mode === 'fanIn' ? fanIn : fanOut);
      fill(() => std * rng.normal());
      break;
    }
    case 'orthogonal': {
      const rows = shape[0];
      const cols = size / rows;
      const q = orthonormal(Math.max(rows, cols), Math.min(rows, cols), rng);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          out[r * cols + c] = it.gain * (rows >= cols ? q[c * rows + r] : q[r * cols + c]);
        }
      }
      break;
    }
    case 'orthogonalBlocks':
      throw new GraphError(`orthogonal blocks init of ${where} draws one generator per block; use paramValues`);
    case 'values': {
      for (let i = 0; i < size; i++) out[i] = it.values[i];
      break;
    }
  }
  return out;
}

/**
 * m orthonormal vectors of length n (n >= m), stored one after another: the Q of the QR decomposition, with
 * positive diagonal R, of a standard normal n x m matrix (modified Gram-Schmidt; a Gaussian matrix is well
 * enough conditioned that one pass keeps the columns orthonormal to ~1e-14).
 */
function orthonormal(n: number, m: number, rng: Rng): Float64Array {
  const q = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) q[j * n + i] = rng.normal();
  for (let j = 0; j < m; j++) {
    const oj = j * n;
    for (let k = 0; k < j; k++) {
      const ok = k * n;
      let dot = 0;
      for (let i = 0; i < n; i++) dot += q[ok + i] * q[oj + i];
      for (let i = 0; i < n; i++) q[oj + i] -= dot * q[ok + i];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[oj + i] * q[oj + i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) q[oj + i] /= norm;
  }
  return q;
}
