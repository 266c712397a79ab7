/** @file From an experiment config, a strategy and the data's shapes to the B2M model options and the optimizer settings of the step graph. */
import type { B2mModelOptions, ContrastiveTermOptions, LatentTermOptions, TapOptions } from '../../graphs/b2m.js';
import type { OptimizerConfig } from '../../graphs/optim/config.js';
import type { ExperimentConfig, Strategy, TapConfig } from '../config.js';
import type { TeacherData } from './teacher-data.js';
import { TrainDataError } from './teacher-data.js';

/** Which loss terms a strategy trains with; the null controls train like `both` on other brain data. */
export function strategyTerms(strategy: Strategy): { contrastive: boolean; latent: boolean } {
  switch (strategy) {
    case 'isolated':
      return { contrastive: false, latent: false };
    case 'contrastive':
      return { contrastive: true, latent: false };
    case 'latent':
      return { contrastive: false, latent: true };
    default:
      return { contrastive: true, latent: true };
  }
}

function tapOf(tap: TapConfig): TapOptions {
  return tap.times === undefined ? { layer: tap.layer } : { layer: tap.layer, times: tap.times };
}

/**
 * The model for one strategy. `xShape` is the task tensor's row shape ([T, F] trials, [H, W, 3] scenes);
 * `teacher` sizes the brain inputs: contrastive features are a teacher row flattened (time × k); latent targets
 * are k per time bin for the decision RNN, the flattened row for the scene VAE.
 */
export function b2mModelOptions(config: ExperimentConfig, strategy: Strategy, xShape: readonly number[], teacher: TeacherData | null): B2mModelOptions {
  const terms = strategyTerms(strategy);
  const student: B2mModelOptions['student'] =
    config.student.kind === 'decisionRnn'
      ? {
          kind: 'decisionRnn',
          cell: config.student.cell,
          inputSize: xShape[1]!,
          timeBins: xShape[0]!,
          hidden: config.student.hidden,
          layers: config.student.layers,
          classes: 2,
          readout: config.student.readout,
        }
      : {
          kind: 'sceneVae',
          imageSize: [xShape[0]!, xShape[1]!],
          channels: [...config.student.channels],
          latent: config.student.latent,
          reconstruction: config.student.reconstruction,
          beta: config.student.beta,
        };
  const options: B2mModelOptions = { student, seed: config.seed, floatType: 'float32' };
  if (!terms.contrastive && !terms.latent) return options;
  if (!teacher) throw new TrainDataError(`strategy ${strategy} needs a teacher table`);
  const flat = teacher.times * teacher.k;
  if (terms.contrastive) {
    const c = config.losses.contrastive;
    const contrastive: ContrastiveTermOptions = {
      brainDim: flat,
      projectionDim: c.projectionDim,
      brainHead: c.brainHead,
      temperature: { ...c.temperature },
      tap: tapOf(c.tap),
      weight: c.weight,
    };
    options.contrastive = contrastive;
  }
  if (terms.latent) {
    const l = config.losses.latent;
    const latent: LatentTermOptions = {
      latentDim: student.kind === 'decisionRnn' ? teacher.k : flat,
      tap: tapOf(l.tap),
      weight: l.weight,
    };
    options.latent = latent;
  }
  return options;
}

/** The config's optimizer as the step graph's settings (biases are not decayed). */
export function optimizerOf(config: ExperimentConfig): OptimizerConfig {
  const o = config.train.optimizer;
  const common = {
    lr: o.lr,
    weightDecay: o.weightDecay,
    excludeFromDecay: ['bias'],
    ...(o.clipNorm !== undefined ? { clipNorm: o.clipNorm } : {}),
  };
  switch (o.kind) {
    case 'sgd':
      return { kind: 'sgd', ...common, momentum: 0 };
    case 'momentum':
      return { kind: 'sgd', ...common, momentum: o.momentum };
    case 'nesterov':
      return { kind: 'sgd', ...common, momentum: o.momentum, nesterov: true };
    default:
      return { kind: o.kind, ...common, beta1: o.betas[0], beta2: o.betas[1], eps: o.eps };
  }
}
