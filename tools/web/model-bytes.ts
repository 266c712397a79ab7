/** @file Rewriting an ONNX model's parameter initializers and metadata in the page, so a student trained there can be downloaded. */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, StringStringEntryProtoSchema, TensorProto_DataType } from 'onnx-buf';

/**
 * The model with each float32 initializer named in `values` replaced by those values, and `metadata` entries set
 * (replacing entries of the same key). Every initializer named in `required` must be given.
 */
export function withParameters(
  model: Uint8Array,
  values: ReadonlyMap<string, Float32Array>,
  required: readonly string[],
  metadata: Record<string, string> = {},
): Uint8Array {
  const m = fromBinary(ModelProtoSchema, model);
  const graph = m.graph;
  if (!graph) throw new Error('the inference model has no graph');
  const want = new Set(required);
  for (const init of graph.initializer) {
    const v = values.get(init.name);
    if (v === undefined) {
      if (want.has(init.name)) throw new Error(`no trained value for parameter "${init.name}"`);
      continue;
    }
    if (init.dataType !== TensorProto_DataType.FLOAT) throw new Error(`parameter "${init.name}" is not float32 in the inference model`);
    const n = init.dims.reduce((a, d) => a * Number(d), 1);
    if (n !== v.length) throw new Error(`parameter "${init.name}" holds ${n} values in the model and ${v.length} were trained`);
    init.rawData = new Uint8Array(v.byteLength);
    init.rawData.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    init.floatData = [];
  }
  for (const [key, value] of Object.entries(metadata)) {
    const entry = m.metadataProps.find((e) => e.key === key);
    if (entry) entry.value = value;
    else m.metadataProps.push(create(StringStringEntryProtoSchema, { key, value }));
  }
  return toBinary(ModelProtoSchema, m);
}
