/** @file The decision student: a recurrent network (GRU by default) that reads a trial bin by bin and gives its choice at the decision bin. */
import { GraphError } from '../errors.js';
import { init } from '../init.js';
import { type RecurrentKind, recurrentSequence } from '../layers/recurrent.js';
import { add } from '../ops/elementwise.js';
import { gemm, matmul } from '../ops/matmul.js';
import { softmax } from '../ops/nn.js';
import { gather, squeeze, unsqueeze } from '../ops/shape.js';
import type { Tensor } from '../tensor.js';

export interface DecisionRnnOptions {
  cell: RecurrentKind;
  /** Input features per time bin. */
  inputSize: number;
  /** Time bins per trial (static). */
  timeBins: number;
  hidden: number;
  layers: number;
  /** Choices (2 for the memory-decision task). */
  classes: number;
}

export interface DecisionRnn {
  /** The top layer's hidden states [batch, T, H]. */
  hidden: Tensor;
  /** The top layer's hidden state at each trial's decision bin [batch, H]. */
  decisionHidden: Tensor;
  /** Choice logits read at the decision bin [batch, classes]. */
  choiceLogits: Tensor;
  /** The readout (`readout.weight`, `readout.bias`) applied to any [..., H] tensor. */
  readout(h: Tensor): Tensor;
}

function positive(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new GraphError(`decisionRnn: ${what} must be a positive integer, got ${v}`);
}

/**
 * The decision student over `inputs` [batch, T, F]: a stack of `layers` recurrent layers (`rnn.layer<k>.*`; their
 * input weights are the input projection), and a linear choice readout (`readout.*`) of the top layer's state at
 * the bin where `decisionMask` [batch, T] (one-hot per trial, since delays vary) is 1. Parameters are created
 * under the current scope.
 */
export function decisionRnn(inputs: Tensor, decisionMask: Tensor, opts: DecisionRnnOptions): DecisionRnn {
  const g = inputs.graph;
  positive(opts.inputSize, 'inputSize');
  positive(opts.timeBins, 'timeBins');
  positive(opts.hidden, 'hidden');
  positive(opts.layers, 'layers');
  if (!Number.isInteger(opts.classes) || opts.classes < 2) throw new GraphError(`decisionRnn: classes must be an integer of at least 2, got ${opts.classes}`);
  if (inputs.rank !== 3 || inputs.shape[1] !== opts.timeBins || inputs.shape[2] !== opts.inputSize) {
    throw new GraphError(`decisionRnn: inputs must be [batch, ${opts.timeBins}, ${opts.inputSize}] (timeBins, inputSize), got ${inputs.toString()}`);
  }
  if (decisionMask.rank !== 2 || decisionMask.shape[1] !== opts.timeBins || decisionMask.dtype !== inputs.dtype) {
    throw new GraphError(`decisionRnn: decision_mask must be ${inputs.dtype} [batch, ${opts.timeBins}], got ${decisionMask.toString()}`);
  }
  const seq = recurrentSequence(opts.cell, inputs, { hidden: opts.hidden, layers: opts.layers, name: 'rnn' });
  const hidden = seq.sequence as Tensor;
  const [w, b] = g.scope('readout', () => [g.param('weight', [opts.hidden, opts.classes], 'xavierUniform'), g.param('bias', [opts.classes], init.zeros())]);
  const readout = (h: Tensor): Tensor => (h.rank === 2 ? gemm(h, w, b) : add(matmul(h, w), b));
  const decisionHidden = squeeze(matmul(unsqueeze(decisionMask, 1), hidden), 1);
  return { hidden, decisionHidden, choiceLogits: readout(decisionHidden), readout };
}

/** Choice probability from logits [..., C]: P(class 1) [...] for two classes, the whole distribution otherwise. */
export function choiceProbability(logits: Tensor): Tensor {
  const p = softmax(logits, -1);
  return logits.shape[logits.rank - 1] === 2 ? gather(p, 1, -1) : p;
}
