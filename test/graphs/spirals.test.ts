/** @file Two-spirals: a small tanh MLP trained through compileTraining and TrainSession reaches 100% training accuracy. */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { compileTraining, exportInference, type TrainingSpec } from '../../graphs/artifacts.js';
import type { Graph } from '../../graphs/graph.js';
import { add, cast, greater, matmul, mul, reduceLogSumExp, reduceMean, reduceSum, sub, tanh } from '../../graphs/ops/index.js';
import type { Tensor } from '../../graphs/tensor.js';
import { TrainSession } from '../../graphs/train-session.js';

/** Lang & Witbrock's two spirals: 97 points per spiral, the second the first turned by 180 degrees. */
function twoSpirals(): { x: Float32Array; y: Float32Array; labels: number[] } {
  const n = 97;
  const x = new Float32Array(4 * n);
  const y = new Float32Array(4 * n);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const angle = (i * Math.PI) / 16;
    const radius = (6.5 * (104 - i)) / 104;
    const px = (radius * Math.sin(angle)) / 6.5;
    const py = (radius * Math.cos(angle)) / 6.5;
    x.set([px, py, -px, -py], 4 * i);
    y.set([0, 1, 1, 0], 4 * i);
    labels.push(1, 0);
  }
  return { x, y, labels };
}

function dense(g: Graph, name: string, x: Tensor, inDim: number, outDim: number): Tensor {
  return g.scope(name, () => add(matmul(x, g.param('weight', [inDim, outDim], 'xavierUniform')), g.param('bias', [outDim], 'zeros')));
}

const spec: TrainingSpec = {
  build(g) {
    const x = g.input('x', 'float32', ['batch', 2]);
    const y = g.input('y', 'float32', ['batch', 2]);
    const h1 = tanh(dense(g, 'fc1', x, 2, 64));
    const h2 = tanh(dense(g, 'fc2', h1, 64, 64));
    const logits = dense(g, 'out', h2, 64, 2);
    const logProb = sub(logits, reduceLogSumExp(logits, 1, true));
    const ce = reduceMean(reduceSum(mul(logProb, y), 1));
    const margin = reduceSum(mul(logits, sub(mul(y, 2), 1)), 1);
    const accuracy = reduceMean(cast(greater(margin, 0), 'float32'));
    return { loss: mul(ce, -1), terms: { task: mul(ce, -1) }, metrics: { accuracy }, activations: { hidden: h2 }, inference: { logits } };
  },
};

describe('two spirals', () => {
  it('a 2-64-64-2 tanh MLP trained with Adam reaches 100% training accuracy', async () => {
    const data = twoSpirals();
    const artifacts = compileTraining(spec, { optimizer: { kind: 'adam', lr: 0.03 }, seed: 3 });
    const session = await TrainSession.create(artifacts, { intraOpNumThreads: 1 });
    const rows = data.labels.length;
    const batch = { x: new ort.Tensor('float32', data.x, [rows, 2]), y: new ort.Tensor('float32', data.y, [rows, 2]) };
    // The step reports accuracy before its update, so the exported model with the updated weights is checked too.
    const exportedCorrect = async (): Promise<number> => {
      const inference = await ort.InferenceSession.create(exportInference(artifacts, session.params()));
      const logits = (await inference.run({ x: batch.x })).logits.data as Float32Array;
      await inference.release();
      let correct = 0;
      for (let i = 0; i < rows; i++) if ((logits[2 * i + 1] > logits[2 * i] ? 1 : 0) === data.labels[i]) correct++;
      return correct;
    };
    const first = await session.step(batch);
    let last = first;
    let correct = 0;
    const started = performance.now();
    while (session.stepCount < 4000) {
      last = await session.step(batch);
      if (last.metrics.accuracy === 1 && (correct = await exportedCorrect()) === rows) break;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`two spirals: stopped after ${session.stepCount} steps (${correct}/${rows} correct), ${seconds.toFixed(2)} s, loss ${first.loss.toFixed(3)} -> ${last.loss.toFixed(4)}`);
    expect(last.metrics.accuracy).toBe(1);
    expect(correct).toBe(rows);
    expect(last.loss).toBeLessThan(first.loss / 4);
    await session.release();
  }, 60_000);
});
