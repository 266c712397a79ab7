/** @file NumPy `.npy` reader (format versions 1, 2 and 3): numeric dtypes of either byte order, C or Fortran order, returned in C order. */
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import path from 'node:path';
import { DatasetError } from '../errors.js';

type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** An n-dimensional array in row-major (C) order, whatever order the file stored. */
export interface NpyArray {
  file: string;
  /** NumPy dtype name: `float32`, `float64`, `int8` ... `uint64`, `bool`. */
  dtype: string;
  shape: number[];
  data: NumericArray;
  /** True when the file stored the array in Fortran order; `data` has been transposed to C order. */
  fortranOrder: boolean;
}

interface DtypeInfo {
  name: string;
  size: number;
  make: (n: number) => NumericArray;
}

const DTYPES: Record<string, DtypeInfo> = {
  f4: { name: 'float32', size: 4, make: (n) => new Float32Array(n) },
  f8: { name: 'float64', size: 8, make: (n) => new Float64Array(n) },
  i1: { name: 'int8', size: 1, make: (n) => new Int8Array(n) },
  u1: { name: 'uint8', size: 1, make: (n) => new Uint8Array(n) },
  b1: { name: 'bool', size: 1, make: (n) => new Uint8Array(n) },
  i2: { name: 'int16', size: 2, make: (n) => new Int16Array(n) },
  u2: { name: 'uint16', size: 2, make: (n) => new Uint16Array(n) },
  i4: { name: 'int32', size: 4, make: (n) => new Int32Array(n) },
  u4: { name: 'uint32', size: 4, make: (n) => new Uint32Array(n) },
  i8: { name: 'int64', size: 8, make: (n) => new BigInt64Array(n) },
  u8: { name: 'uint64', size: 8, make: (n) => new BigUint64Array(n) },
};
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** The three fields of the header dictionary, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`. */
function parseHeader(name: string, header: string): { descr: string; fortran: boolean; shape: number[] } {
  const text = header.trim();
  if (!text.startsWith('{') || !text.endsWith('}')) throw new DatasetError(`${name}: the .npy header '${text}' is not a Python dict literal; the file is corrupt`);
  if (/['"]descr['"]\s*:\s*\[/.test(text)) {
    throw new DatasetError(`${name}: structured (record) dtypes are not supported; save a plain numeric array (e.g. arr.astype('float32'))`);
  }
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)\b/.exec(text);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) {
    const missing = [!descr && 'descr', !fortran && 'fortran_order', !shape && 'shape'].filter(Boolean).join(', ');
    throw new DatasetError(`${name}: the .npy header lacks ${missing}: '${text}'; the file is corrupt`);
  }
  const dims = shape[1]
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '');
  if (dims.some((d) => !/^\d+L?$/.test(d))) throw new DatasetError(`${name}: the .npy header's shape (${shape[1]}) is not a tuple of non-negative integers`);
  return { descr: descr[1], fortran: fortran[1] === 'True', shape: dims.map((d) => parseInt(d, 10)) };
}

/** Row-major copy of an array stored with its first axis fastest (Fortran order). */
function fortranToC<T extends NumericArray>(source: T, shape: number[], make: (n: number) => NumericArray): T {
  const out = make(source.length) as T;
  const rank = shape.length;
  if (rank < 2 || source.length === 0) {
    out.set(source as never);
    return out;
  }
  const fStride = new Array<number>(rank);
  fStride[0] = 1;
  for (let a = 1; a < rank; a++) fStride[a] = fStride[a - 1] * shape[a - 1];
  const index = new Array<number>(rank).fill(0);
  const last = rank - 1;
  const inner = shape[last];
  const innerStride = fStride[last];
  let f = 0;
  for (let c = 0; c < out.length; c += inner) {
    for (let j = 0, p = f; j < inner; j++, p += innerStride) out[c + j] = source[p];
    for (let a = last - 1; a >= 0; a--) {
      index[a]++;
      f += fStride[a];
      if (index[a] < shape[a]) break;
      f -= fStride[a] * shape[a];
      index[a] = 0;
    }
  }
  return out;
}

/**
 * Reads a `.npy` file. Supports format versions 1.0, 2.0 and 3.0, little- and big-endian floats and integers,
 * bool, and both memory orders (Fortran-ordered data is transposed, so `data` is always row-major). Structured
 * dtypes, object arrays, float16 and complex numbers throw a `DatasetError` that says what to save instead.
 */
export async function readNpy(file: string): Promise<NpyArray> {
  const name = path.basename(file);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new DatasetError(`${file}: cannot read the .npy file (${(err as NodeJS.ErrnoException).code ?? String(err)}); check the path`);
  }
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new DatasetError(`${name}: missing the \\x93NUMPY magic string; not a .npy file`);
  const major = bytes[6];
  if (major < 1 || major > 3) throw new DatasetError(`${name}: .npy format version ${major}.${bytes[7]} is unknown; versions 1, 2 and 3 are supported`);
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const dataStart = 8 + lengthBytes + headerLength;
  if (bytes.length < dataStart) throw new DatasetError(`${name}: the header claims ${headerLength} bytes but the file ends at ${bytes.length}; it is truncated`);
  const header = bytes.toString(major === 3 ? 'utf8' : 'latin1', 8 + lengthBytes, dataStart);
  const { descr, fortran, shape } = parseHeader(name, header);
  const order = descr[0];
  const code = /^[<>|=]/.test(descr) ? descr.slice(1) : descr;
  const info = DTYPES[code];
  if (!info) {
    throw new DatasetError(`${name}: dtype '${descr}' is not supported; save floats (f4, f8), integers (i1–i8, u1–u8) or bool, e.g. arr.astype('float32')`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = count * info.size;
  const available = bytes.length - dataStart;
  if (available !== expected) {
    throw new DatasetError(
      `${name}: shape (${shape.join(', ')}) of ${descr} needs ${expected} data bytes but the file holds ${available}` +
        `${available < expected ? '; it is truncated' : '; the header and data disagree'}`,
    );
  }
  const data = info.make(count);
  const target = new Uint8Array(data.buffer);
  const big = order === '>' || (order === '=' && endianness() === 'BE');
  const swap = info.size > 1 && big !== (endianness() === 'BE');
  if (!swap) {
    target.set(bytes.subarray(dataStart, dataStart + expected));
  } else {
    const s = info.size;
    for (let i = 0; i < expected; i += s) for (let k = 0; k < s; k++) target[i + k] = bytes[dataStart + i + s - 1 - k];
  }
  return {
    file,
    dtype: info.name,
    shape,
    data: fortran ? fortranToC(data, shape, info.make) : data,
    fortranOrder: fortran,
  };
}

/** The array's values as float32 (int64 beyond 2^53 loses precision, as it would in NumPy's astype). */
export function npyToFloat32(array: NpyArray): Float32Array {
  if (array.data instanceof Float32Array) return array.data;
  const out = new Float32Array(array.data.length);
  const src = array.data;
  if (src instanceof BigInt64Array || src instanceof BigUint64Array) {
    for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
  } else {
    out.set(src);
  }
  return out;
}
