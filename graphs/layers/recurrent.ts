/** @file Recurrent layers: GRU, LSTM and tanh RNN cells, and unrolled multi-layer sequence layers over [batch, T, F]. */
import { GraphError } from '../errors.js';
import type { Graph } from '../graph.js';
import { init } from '../init.js';
import { add, mul, sigmoid, sub, tanh } from '../ops/elementwise.js';
import { gemm, matmul } from '../ops/matmul.js';
import { concat, reshape, split } from '../ops/shape.js';
import type { Tensor } from '../tensor.js';

/** The three recurrent cell types. */
export type RecurrentKind = 'gru' | 'lstm' | 'rnn';

/** Gate blocks per cell type; the weight columns are laid out gate after gate. */
export const GATE_COUNT: Readonly<Record<RecurrentKind, number>> = { gru: 3, lstm: 4, rnn: 1 };

/**
 * Parameters of one recurrent layer, multiplying as `x @ wIh` and `h @ wHh`. Gate order: GRU [reset, update,
 * new] (PyTorch's); LSTM [input, forget, output, cell] (the three sigmoid gates first, so that one Sigmoid
 * covers them); RNN a single block.
 */
export interface RecurrentWeights {
  kind: RecurrentKind;
  inputSize: number;
  hidden: number;
  /** [inputSize, gates*hidden] */
  wIh: Tensor;
  /** [hidden, gates*hidden] */
  wHh: Tensor;
  /** [gates*hidden] */
  bIh: Tensor;
  /** [gates*hidden] */
  bHh: Tensor;
}

/** The state a cell carries: `c` only for the LSTM. */
export interface RecurrentState {
  h: Tensor;
  c?: Tensor;
}

/**
 * Creates `w_ih`, `w_hh`, `b_ih` and `b_hh` under the current scope of `g`. Input weights are Xavier-uniform
 * per gate block; each [hidden, hidden] gate block of `w_hh` is orthogonal, drawn from the generator of its
 * own path (`<path>#gate<k>`) so the values depend only on the graph seed and the parameter path. Biases are
 * zero, except the LSTM's forget gate bias `b_ih`, which starts at 1 so the cell remembers by default.
 */
export function recurrentWeights(g: Graph, kind: RecurrentKind, inputSize: number, hidden: number): RecurrentWeights {
  if (!(kind in GATE_COUNT)) throw new GraphError(`recurrent kind must be 'gru', 'lstm' or 'rnn', got '${String(kind)}'`);
  for (const [what, v] of [
    ['input size', inputSize],
    ['hidden size', hidden],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new GraphError(`${kind} in scope '${g.scopePath}': ${what} must be a positive integer, got ${v}`);
  }
  const gates = GATE_COUNT[kind];
  const width = gates * hidden;
  const bound = Math.sqrt(6 / (inputSize + hidden));
  const wIh = g.param('w_ih', [inputSize, width], init.uniform(-bound, bound));
  const wHh = g.param('w_hh', [hidden, width], init.orthogonalBlocks(gates));
  const forgetOnes = (): number[] => Array.from({ length: width }, (_, i) => (i >= hidden && i < 2 * hidden ? 1 : 0));
  const bIh = g.param('b_ih', [width], kind === 'lstm' ? init.values(forgetOnes()) : init.zeros());
  const bHh = g.param('b_hh', [width], init.zeros());
  return { kind, inputSize, hidden, wIh, wHh, bIh, bHh };
}

/**
 * One GRU step from the projected input xp = x @ wIh + bIh, split as [reset+update, new]; `h` null is the zero
 * state. h' = n + z * (h - n) with n = tanh(xn + r * (h @ Whn + bhn)) (PyTorch's form, reset after the product).
 */
function gruStep(xrz: Tensor, xn: Tensor, h: Tensor | null, w: RecurrentWeights): Tensor {
  const H = w.hidden;
  const [hrz, hn] = split(h ? gemm(h, w.wHh, w.bHh) : w.bHh, [2 * H, H], -1);
  const [r, z] = split(sigmoid(add(xrz, hrz)), [H, H], -1);
  const n = tanh(add(xn, mul(r, hn)));
  return h ? add(n, mul(z, sub(h, n))) : sub(n, mul(z, n));
}

/** One LSTM step from xp = x @ wIh + bIh + bHh; null state is zero. */
function lstmStep(xp: Tensor, state: RecurrentState | null, w: RecurrentWeights): Required<RecurrentState> {
  const H = w.hidden;
  const gates = state ? gemm(state.h, w.wHh, xp) : xp;
  const [ifo, cand] = split(gates, [3 * H, H], -1);
  const [i, f, o] = split(sigmoid(ifo), [H, H, H], -1);
  const ig = mul(i, tanh(cand));
  const c = state ? add(mul(f, state.c as Tensor), ig) : ig;
  return { h: mul(o, tanh(c)), c };
}

/** One tanh RNN step from xp = x @ wIh + bIh + bHh; null state is zero. */
function rnnStep(xp: Tensor, h: Tensor | null, w: RecurrentWeights): Tensor {
  return tanh(h ? gemm(h, w.wHh, xp) : xp);
}

/**
 * One step of a cell from its projected input, for hand-written loops (a Scan body, a custom schedule): xp =
 * x @ wIh + bIh for the GRU, x @ wIh + bIh + bHh for the LSTM and RNN, [batch, gates*hidden]. A null state is
 * the zero state.
 */
export function recurrentStep(kind: RecurrentKind, xp: Tensor, state: RecurrentState | null, w: RecurrentWeights): RecurrentState {
  if (w.kind !== kind) throw new GraphError(`recurrentStep: the weights are for a ${w.kind} cell, not ${kind}`);
  if (kind === 'lstm') return lstmStep(xp, state, w);
  if (kind === 'rnn') return { h: rnnStep(xp, state?.h ?? null, w) };
  const [xrz, xn] = split(xp, [2 * w.hidden, w.hidden], -1);
  return { h: gruStep(xrz, xn, state?.h ?? null, w) };
}

function checkStep(kind: RecurrentKind, x: Tensor, h: Tensor, w: RecurrentWeights): void {
  const what = `${kind}Cell`;
  if (x.rank !== 2 || x.shape[1] !== w.inputSize) {
    throw new GraphError(`${what}: input must be [batch, ${w.inputSize}], got ${x.toString()}`);
  }
  if (h.rank !== 2 || h.shape[1] !== w.hidden) throw new GraphError(`${what}: state must be [batch, ${w.hidden}], got ${h.toString()}`);
  if (w.kind !== kind) throw new GraphError(`${what}: the weights are for a ${w.kind} cell`);
}

/** GRU cell: x [batch, F], h [batch, H] -> h' [batch, H]. */
export function gruCell(x: Tensor, h: Tensor, w: RecurrentWeights): Tensor {
  checkStep('gru', x, h, w);
  const [xrz, xn] = split(gemm(x, w.wIh, w.bIh), [2 * w.hidden, w.hidden], -1);
  return gruStep(xrz, xn, h, w);
}

/** LSTM cell: x [batch, F], state {h, c} [batch, H] -> {h', c'}. */
export function lstmCell(x: Tensor, state: RecurrentState, w: RecurrentWeights): Required<RecurrentState> {
  checkStep('lstm', x, state.h, w);
  if (!state.c) throw new GraphError('lstmCell: the state needs a cell tensor c [batch, hidden]');
  return lstmStep(gemm(x, w.wIh, add(w.bIh, w.bHh)), state, w);
}

/** Vanilla tanh RNN cell: x [batch, F], h [batch, H] -> h' = tanh(x Wih + bih + h Whh + bhh). */
export function rnnCell(x: Tensor, h: Tensor, w: RecurrentWeights): Tensor {
  checkStep('rnn', x, h, w);
  return rnnStep(gemm(x, w.wIh, add(w.bIh, w.bHh)), h, w);
}

export interface RecurrentSequenceOptions {
  /** Hidden size of every layer. */
  hidden: number;
  /** Stacked layers (default 1); each reads the hidden states of the one below. */
  layers?: number;
  /** Also give the top layer's states stacked as [batch, T, H] (default true). */
  returnSequence?: boolean;
  /** Scope of the parameters (default 'rnn'): `<name>.layer<k>.w_ih` and so on. */
  name?: string;
  /** Initial state per layer (default zeros, which also skips the first recurrent product). */
  initial?: readonly RecurrentState[];
}

export interface RecurrentSequenceResult {
  /** The top layer's hidden state after each step, each [batch, H]. */
  steps: Tensor[];
  /** The same stacked as [batch, T, H], when returnSequence. */
  sequence: Tensor | null;
  /** The top layer's last hidden state [batch, H]. */
  last: Tensor;
  /** Final state of each layer (for carrying over to a following segment). */
  final: RecurrentState[];
  /** Each layer's weights, bottom first. */
  weights: RecurrentWeights[];
}

/**
 * Runs a stack of recurrent layers over x [batch, T, F], unrolled over the T (static) steps. Each layer
 * projects its whole input sequence with one MatMul and splits the result into per-step gate inputs with one
 * Split, so a step costs one recurrent Gemm plus the gate arithmetic; the gradients of the shared weights
 * accumulate in one Sum node each.
 */
export function recurrentSequence(kind: RecurrentKind, x: Tensor, opts: RecurrentSequenceOptions): RecurrentSequenceResult {
  const g = x.graph;
  const name = opts.name ?? 'rnn';
  const layers = opts.layers ?? 1;
  const [, steps, features] = x.shape;
  if (x.rank !== 3 || typeof steps !== 'number' || typeof features !== 'number') {
    throw new GraphError(`recurrentSequence '${name}': input must be [batch, T, features] with static T and features, got ${x.toString()}`);
  }
  if (!Number.isInteger(layers) || layers < 1) throw new GraphError(`recurrentSequence '${name}': layers must be a positive integer, got ${layers}`);
  if (opts.initial && opts.initial.length !== layers) {
    throw new GraphError(`recurrentSequence '${name}': initial has ${opts.initial.length} states for ${layers} layers`);
  }
  const H = opts.hidden;
  return g.scope(name, () => {
    let input = x;
    let outs: Tensor[] = [];
    const final: RecurrentState[] = [];
    const weights: RecurrentWeights[] = [];
    for (let l = 0; l < layers; l++) {
      const w = g.scope(`layer${l}`, () => recurrentWeights(g, kind, l === 0 ? features : H, H));
      weights.push(w);
      const init0 = opts.initial?.[l] ?? null;
      if (init0) checkInitial(name, l, kind, init0, H);
      const state = g.scope(`layer${l}`, () => runLayer(kind, input, steps, w, init0));
      outs = state.steps;
      final.push(state.final);
      if (l + 1 < layers) input = stack(outs, H);
    }
    const sequence = opts.returnSequence === false ? null : stack(outs, H);
    return { steps: outs, sequence, last: outs[outs.length - 1], final, weights };
  });
}

function checkInitial(name: string, layer: number, kind: RecurrentKind, s: RecurrentState, H: number): void {
  const bad = (t: Tensor | undefined) => !t || t.rank !== 2 || t.shape[1] !== H;
  if (bad(s.h) || (kind === 'lstm' && bad(s.c))) {
    throw new GraphError(`recurrentSequence '${name}': initial state of layer ${layer} must be [batch, ${H}]${kind === 'lstm' ? ' for both h and c' : ''}`);
  }
}

/** [batch, H] per step -> [batch, T, H] (one Concat and one Reshape). */
function stack(steps: readonly Tensor[], H: number): Tensor {
  return reshape(concat(steps, 1), [steps[0].shape[0], steps.length, H]);
}

function runLayer(kind: RecurrentKind, x: Tensor, T: number, w: RecurrentWeights, initial: RecurrentState | null) {
  const H = w.hidden;
  const width = GATE_COUNT[kind] * H;
  const bias = kind === 'gru' ? w.bIh : add(w.bIh, w.bHh);
  const projected = reshape(add(matmul(x, w.wIh), bias), [x.shape[0], T * width]);
  const out: Tensor[] = [];
  if (kind === 'gru') {
    const parts = split(projected, Array.from({ length: 2 * T }, (_, i) => (i % 2 === 0 ? 2 * H : H)), 1);
    let h = initial?.h ?? null;
    for (let t = 0; t < T; t++) {
      h = gruStep(parts[2 * t], parts[2 * t + 1], h, w);
      out.push(h);
    }
    return { steps: out, final: { h: h as Tensor } };
  }
  const parts = split(projected, T, 1);
  if (kind === 'rnn') {
    let h = initial?.h ?? null;
    for (let t = 0; t < T; t++) {
      h = rnnStep(parts[t], h, w);
      out.push(h);
    }
    return { steps: out, final: { h: h as Tensor } };
  }
  let state: RecurrentState | null = initial;
  for (let t = 0; t < T; t++) {
    state = lstmStep(parts[t], state, w);
    out.push(state.h);
  }
  return { steps: out, final: state as RecurrentState };
}
