/** @file What `b2m inspect` says about an Arrow table, a dataset directory, an ONNX graph, and a training run directory. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Table } from 'apache-arrow';
import { isTensorField, MANIFEST_FILE, openDataset, readTable, tensorRows, tensorShape } from '../../datasets/index.js';
import { decodeModel } from '../../graphs/serialize.js';
import { B2mError } from '../errors.js';
import { formatNumber } from '../summary.js';

/** A file given to `b2m inspect` cannot be read as the kind it looks like. */
export class InspectError extends B2mError {}

/** Text for people and data for `--json`. */
export interface Inspection {
  text: string;
  data: Record<string, unknown>;
}

interface ColumnSummary {
  name: string;
  type: string;
  shape?: number[];
  nulls: number;
  min?: number;
  max?: number;
  mean?: number;
  distinct?: number;
  examples?: string[];
}

function summarizeColumns(table: Table): ColumnSummary[] {
  return table.schema.fields.map((field) => {
    const column = table.getChild(field.name)!;
    const base = { name: field.name, type: String(field.type), nulls: column.nullCount };
    if (isTensorField(field)) {
      const values = tensorRows(column as never);
      return { ...base, type: 'tensor', shape: tensorShape(field, field.name), ...range(values) };
    }
    const first = column.get(0);
    if (typeof first === 'string' || (first === null && String(field.type) === 'Utf8')) {
      const seen = new Set<string>();
      for (let i = 0; i < column.length && seen.size <= 1000; i++) {
        const v = column.get(i) as string | null;
        if (v !== null) seen.add(v);
      }
      return { ...base, distinct: seen.size, examples: [...seen].slice(0, 4) };
    }
    const values = new Float64Array(column.length);
    let n = 0;
    for (let i = 0; i < column.length; i++) {
      const v = column.get(i) as number | null;
      if (v !== null && Number.isFinite(Number(v))) values[n++] = Number(v);
    }
    return { ...base, ...range(values.subarray(0, n)) };
  });
}

function range(values: ArrayLike<number>): { min?: number; max?: number; mean?: number } {
  if (values.length === 0) return {};
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { min, max, mean: sum / values.length };
}

function describeColumn(c: ColumnSummary): string {
  const kind = c.shape ? `tensor [${c.shape.join(', ')}]` : c.type.toLowerCase();
  const stats = c.min !== undefined ? `min ${formatNumber(c.min)}, mean ${formatNumber(c.mean)}, max ${formatNumber(c.max)}` : c.distinct !== undefined ? `${c.distinct} distinct (${c.examples!.join(', ')}${c.distinct > 4 ? ', …' : ''})` : '';
  return `  ${c.name.padEnd(14)} ${kind.padEnd(18)} ${stats}${c.nulls > 0 ? `, ${c.nulls} null` : ''}`;
}

/** An Arrow IPC table: rows, b2m kind, and each column's type, shape and value range. */
export async function inspectTable(file: string): Promise<Inspection> {
  const table = await readTable(file);
  const kind = table.schema.metadata.get('b2m:kind') ?? 'unknown';
  const columns = summarizeColumns(table);
  const text = [`${file}: Arrow table of kind ${kind}, ${table.numRows} rows, ${columns.length} columns`, ...columns.map(describeColumn)].join('\n');
  return { text, data: { kind: 'table', file, tableKind: kind, rows: table.numRows, columns } };
}

/** A dataset directory: its manifest, tables with rows and shapes, and splits. */
export async function inspectDataset(dir: string): Promise<Inspection> {
  const dataset = await openDataset(dir);
  const m = dataset.manifest;
  const tables = Object.values(dataset.tables).map((t) => ({ name: t.name, kind: t.kind, rows: t.rows, shapes: t.layout.tensors, files: t.files.length }));
  const lines = [
    `${dir}: ${m.kind} dataset${m.name ? ` "${m.name}"` : ''}${m.provenance.generator ? `, from ${m.provenance.generator}` : ''} (b2m ${m.provenance.version})`,
    ...(m.description ? [`  ${m.description}`] : []),
    ...tables.map((t) => `  ${t.name.padEnd(24)} ${t.kind.padEnd(8)} ${String(t.rows).padStart(7)} rows${Object.entries(t.shapes).map(([c, s]) => `, ${c} [${s.join(', ')}]`).join('')}`),
    ...(m.splits ? [`  splits by ${m.splits.by}: train ${m.splits.counts.train}, val ${m.splits.counts.val}, test ${m.splits.counts.test} rows (seed ${m.splits.seed})`] : []),
  ];
  return { text: lines.join('\n'), data: { kind: 'dataset', dir: dataset.dir, manifest: m, tables } };
}

const ELEMENT_TYPES: Record<number, string> = { 1: 'float32', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64' };

/** An ONNX model: opset, inputs and outputs with shapes, node counts by op, parameters, and whether it carries a training step. */
export function inspectGraph(file: string): Inspection {
  let model;
  try {
    model = decodeModel(readFileSync(file));
  } catch (err) {
    throw new InspectError(`${file} is not a readable ONNX model (${(err as Error).message}). Give an .onnx file written by \`b2m train\`, \`b2m compile\` or \`b2m export\`.`);
  }
  const graph = model.graph;
  if (!graph) throw new InspectError(`${file} holds no graph; it is not an ONNX model b2m can describe.`);
  const io = (list: typeof graph.input) => list.map((v) => {
    const t = v.type?.value.case === 'tensorType' ? v.type.value.value : undefined;
    const dims = t?.shape?.dim.map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : '?')) ?? [];
    return { name: v.name, type: ELEMENT_TYPES[t?.elemType ?? 0] ?? String(t?.elemType), shape: dims };
  });
  const initializers = new Set(graph.initializer.map((i) => i.name));
  const inputs = io(graph.input).filter((i) => !initializers.has(i.name));
  const outputs = io(graph.output);
  const ops = new Map<string, number>();
  for (const node of graph.node) ops.set(node.opType, (ops.get(node.opType) ?? 0) + 1);
  const byOp = Object.fromEntries([...ops].sort((a, b) => b[1] - a[1]));
  let parameters = 0;
  for (const init of graph.initializer) parameters += init.dims.reduce((a, d) => a * Number(d), 1);
  const opsets = Object.fromEntries(model.opsetImport.map((o) => [o.domain || 'ai.onnx', Number(o.version)]));
  const training = model.trainingInfo.length > 0;
  const shape = (s: (string | number)[]) => `[${s.join(', ')}]`;
  const text = [
    `${file}: ONNX model, IR ${Number(model.irVersion)}, opset ${Object.entries(opsets).map(([d, v]) => `${d} ${v}`).join(', ')}${model.producerName ? `, produced by ${model.producerName}` : ''}`,
    `  ${graph.node.length} nodes, ${graph.initializer.length} initializers holding ${parameters} parameters${training ? ', with a training step (training_info) for resuming' : ''}`,
    '  inputs:', ...inputs.map((i) => `    ${i.name} ${i.type} ${shape(i.shape)}`),
    '  outputs:', ...outputs.map((o) => `    ${o.name} ${o.type} ${shape(o.shape)}`),
    `  nodes by op: ${Object.entries(byOp).map(([op, n]) => `${op} ${n}`).join(', ')}`,
  ].join('\n');
  return { text, data: { kind: 'graph', file, irVersion: Number(model.irVersion), opsets, nodes: graph.node.length, parameters, inputs, outputs, nodesByOp: byOp, trainingInfo: training } };
}

/** A training run directory: its strategy and seed, steps done, last metrics, held-out scores, checkpoints. */
export function inspectRun(dir: string): Inspection {
  const run = JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')) as { experiment: string; strategy: string; seed: number; dataset: string };
  const finalFile = path.join(dir, 'final.json');
  const final = existsSync(finalFile) ? (JSON.parse(readFileSync(finalFile, 'utf8')) as Record<string, unknown>) : null;
  const metricsFile = path.join(dir, 'metrics.csv');
  const lastVal: Record<string, number> = {};
  let lastStep = 0;
  if (existsSync(metricsFile)) {
    const lines = readFileSync(metricsFile, 'utf8').split('\n').filter((l) => l !== '');
    const header = lines[0]!.split(',');
    for (const line of lines.slice(1)) {
      const cells = line.split(',');
      lastStep = Math.max(lastStep, Number(cells[0]));
      if (cells[1] === 'val') header.forEach((h, i) => { if (i > 1 && cells[i] !== '') lastVal[h] = Number(cells[i]); });
    }
  }
  const checkpoints = existsSync(path.join(dir, 'checkpoints')) ? (statSync(path.join(dir, 'checkpoints')).isDirectory() ? readdirSync(path.join(dir, 'checkpoints')) : []) : [];
  const score = lastVal.accuracy !== undefined ? `val accuracy ${formatNumber(lastVal.accuracy)}` : lastVal.recon_mse !== undefined ? `val recon MSE ${formatNumber(lastVal.recon_mse)}` : 'no evaluation yet';
  const text = [
    `${dir}: ${run.experiment} run, strategy ${run.strategy}, seed ${run.seed}, dataset ${run.dataset}`,
    `  ${lastStep} steps logged, last evaluation: ${score}; ${checkpoints.length} checkpoint(s)`,
    final ? `  finished: ${JSON.stringify(final.test)} on the test split` : '  not finished (resume with the same command)',
  ].join('\n');
  return { text, data: { kind: 'run', dir, run, steps: lastStep, lastVal, checkpoints, final } };
}

/** True for a dataset directory (holds a manifest). */
export function isDatasetDir(file: string): boolean {
  return statSync(file).isDirectory() && existsSync(path.join(file, MANIFEST_FILE));
}

/** True for a run directory (holds run.json). */
export function isRunDir(file: string): boolean {
  return statSync(file).isDirectory() && existsSync(path.join(file, 'run.json'));
}
