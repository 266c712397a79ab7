/** @file ONNX models written straight to protobuf bytes from plain data, field for field as @bufbuild/protobuf writes the same ModelProto. */
import { toBinary } from '@bufbuild/protobuf';
import { GraphProtoSchema, TensorProtoSchema } from 'onnx-buf';
import type { OnnxAttribute } from './op.js';
import { type DType, ONNX_DTYPE, type Shape, type TensorData } from './tensor.js';

/** A value's name, element type and shape, as a model declares it. */
export interface PlannedValue {
  name: string;
  dtype: DType;
  shape: Shape;
}

/** One node as the model writes it. */
export interface PlannedNode {
  name: string;
  opType: string;
  /** Absent for the Identity nodes that name outputs, which carry no domain field. */
  domain?: string;
  inputs: string[];
  outputs: string[];
  attributes: readonly OnnxAttribute[];
}

/** Everything a model holds, as plain data. */
export interface ModelPlan {
  graphName: string;
  nodes: PlannedNode[];
  inputs: PlannedValue[];
  outputs: PlannedValue[];
  hints: PlannedValue[];
  initializers: { name: string; dtype: DType; dims: readonly number[]; data: TensorData }[];
  irVersion: number;
  producer: string;
  docString: string;
  opsets: [string, number][];
  metadata: [string, string][];
}

const VARINT = 0;
const FIXED32 = 5;
const LEN = 2;
/** AttributeProto.AttributeType codes. */
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7 } as const;

/**
 * A growing byte buffer. A nested message reserves one byte for its length; when the message turns out longer
 * than 127 bytes its content is moved right to make room, which for ONNX's many small messages is rare.
 */
class ProtoWriter {
  private buf = new Uint8Array(1 << 16);
  private pos = 0;
  private readonly f32 = new Float32Array(1);
  private readonly f32Bytes = new Uint8Array(this.f32.buffer);

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  varint(v: number): void {
    this.room(10);
    while (v > 127) {
      this.buf[this.pos++] = (v & 127) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  /** An int64 as protobuf writes it: negative values as their 64-bit two's complement. */
  int64(v: number): void {
    if (v >= 0 && Number.isSafeInteger(v)) {
      this.varint(v);
      return;
    }
    let u = BigInt.asUintN(64, BigInt(v));
    this.room(10);
    while (u > 127n) {
      this.buf[this.pos++] = Number(u & 127n) | 128;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  string(field: number, s: string): void {
    this.tag(field, LEN);
    const n = s.length;
    this.room(5 + 3 * n);
    let ascii = n < 128;
    if (ascii) {
      const at = this.pos + 1;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 127) {
          ascii = false;
          break;
        }
        this.buf[at + i] = c;
      }
    }
    if (ascii) {
      this.buf[this.pos] = n;
      this.pos += 1 + n;
      return;
    }
    this.bytes(new TextEncoder().encode(s));
  }

  /** Length and content of a bytes field whose tag is written. */
  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  bytesField(field: number, b: Uint8Array): void {
    this.tag(field, LEN);
    this.bytes(b);
  }

  float(field: number, v: number): void {
    this.tag(field, FIXED32);
    this.f32[0] = v;
    this.room(4);
    this.buf.set(this.f32Bytes, this.pos);
    this.pos += 4;
  }

  /** Starts a nested message field; returns where its content begins. */
  begin(field: number): number {
    this.tag(field, LEN);
    this.room(1);
    this.pos += 1;
    return this.pos;
  }

  /** Ends the nested message begun at `start`, writing its length before it. */
  end(start: number): void {
    const length = this.pos - start;
    let extra = 0;
    for (let v = length; v > 127; v = Math.floor(v / 128)) extra++;
    if (extra > 0) {
      this.room(extra);
      this.buf.copyWithin(start + extra, start, this.pos);
      this.pos += extra;
    }
    let at = start - 1;
    let v = length;
    while (v > 127) {
      this.buf[at++] = (v & 127) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[at] = v;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** The ModelProto bytes of a plan, in field-number order with the fields `toModel` sets. */
export function writeModel(plan: ModelPlan): Uint8Array {
  const w = new ProtoWriter();
  const types = new Map<string, Uint8Array>();
  w.tag(1, VARINT);
  w.int64(plan.irVersion);
  w.string(2, plan.producer);
  w.string(6, plan.docString);
  const graph = w.begin(7);
  for (const n of plan.nodes) writeNode(w, n);
  w.string(2, plan.graphName);
  for (const t of plan.initializers) {
    const at = w.begin(5);
    for (const d of t.dims) {
      w.tag(1, VARINT);
      w.int64(d);
    }
    w.tag(2, VARINT);
    w.varint(ONNX_DTYPE[t.dtype]);
    w.string(8, t.name);
    w.bytesField(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    w.end(at);
  }
  for (const v of plan.inputs) writeValueInfo(w, 11, v, types);
  for (const v of plan.outputs) writeValueInfo(w, 12, v, types);
  for (const v of plan.hints) writeValueInfo(w, 13, v, types);
  w.end(graph);
  for (const [domain, version] of plan.opsets) {
    const at = w.begin(8);
    w.string(1, domain);
    w.tag(2, VARINT);
    w.int64(version);
    w.end(at);
  }
  for (const [key, value] of plan.metadata) {
    const at = w.begin(14);
    w.string(1, key);
    w.string(2, value);
    w.end(at);
  }
  return w.finish();
}

function writeNode(w: ProtoWriter, n: PlannedNode): void {
  const at = w.begin(1);
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes) writeAttribute(w, a);
  if (n.domain !== undefined) w.string(7, n.domain);
  w.end(at);
}

function writeAttribute(w: ProtoWriter, a: OnnxAttribute): void {
  const at = w.begin(5);
  w.string(1, a.name);
  switch (a.type) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.tag(3, VARINT);
      w.int64(a.value);
      break;
    case 'string':
      w.bytesField(4, new TextEncoder().encode(a.value));
      break;
    case 'tensor':
      w.bytesField(5, toBinary(TensorProtoSchema, a.value));
      break;
    case 'graph':
      w.bytesField(6, toBinary(GraphProtoSchema, a.value));
      break;
    case 'floats':
      for (const v of a.value) w.float(7, v);
      break;
    case 'ints':
      for (const v of a.value) {
        w.tag(8, VARINT);
        w.int64(v);
      }
      break;
  }
  w.tag(20, VARINT);
  w.varint(ATTRIBUTE_TYPE[a.type]);
  w.end(at);
}

/** A ValueInfoProto; the TypeProto bytes of each (dtype, shape) are written once and copied after. */
function writeValueInfo(w: ProtoWriter, field: number, v: PlannedValue, types: Map<string, Uint8Array>): void {
  const at = w.begin(field);
  w.string(1, v.name);
  const key = `${v.dtype}:${v.shape.join(',')}`;
  let type = types.get(key);
  if (type === undefined) {
    const t = new ProtoWriter();
    const tensor = t.begin(1);
    t.tag(1, VARINT);
    t.varint(ONNX_DTYPE[v.dtype]);
    const shape = t.begin(2);
    for (const d of v.shape) {
      const dim = t.begin(1);
      if (typeof d === 'number') {
        t.tag(1, VARINT);
        t.int64(d);
      } else t.string(2, d);
      t.end(dim);
    }
    t.end(shape);
    t.end(tensor);
    type = t.finish();
    types.set(key, type);
  }
  w.bytesField(2, type);
  w.end(at);
}
