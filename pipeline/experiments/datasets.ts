/** @file The simulated dataset of an experiment config: the config's simulator knobs mapped onto the simulators, written as a dataset directory. */
import type { Dataset } from '../../datasets/index.js';
import {
  type DeepPartial,
  type DrivingSceneConfig,
  drivingSceneSimulator,
  type MemoryDecisionConfig as MemorySimulatorConfig,
  memoryDecisionSimulator,
  writeDrivingSceneDataset,
  writeMemoryDecisionDataset,
} from '../../datasets/simulators/index.js';
import type { DrivingConfig, ExperimentConfig, MemoryDecisionConfig, SplitConfig } from '../config.js';
import { b2mVersion } from '../package.js';

/** Train, validation and test counts of `total` rows under the config's split fractions (each at least 1). */
export function splitCounts(total: number, split: SplitConfig): { train: number; val: number; test: number } {
  const val = Math.max(1, Math.round(total * split.val));
  const test = Math.max(1, Math.round(total * split.test));
  return { train: Math.max(1, total - val - test), val, test };
}

/** The memory-decision simulator's settings for a config (knobs the config does not name keep the simulator's defaults). */
export function memorySimulatorOptions(config: MemoryDecisionConfig): DeepPartial<MemorySimulatorConfig> {
  const sim = config.data.simulator;
  return {
    task: {
      trials: splitCounts(sim.taskTrials, config.data.split),
      timing: { timeBins: sim.timeBins, delayBins: [...sim.delayBins] as [number, number] },
      offerLevels: sim.offerLevels,
      inputNoise: sim.inputNoise,
    },
    brain: {
      subjects: sim.subjects,
      trialsPerSubject: sim.brainTrials,
      pairing: config.losses.contrastive.pairing,
      neurons: sim.neurons,
      latentDims: sim.latentDim,
      observation: sim.noiseModel,
      noiseScale: sim.noise,
      driftScale: sim.drift,
    },
  };
}

/** The driving simulator's settings for a config. */
export function drivingSimulatorOptions(config: DrivingConfig): DeepPartial<DrivingSceneConfig> {
  const sim = config.data.simulator;
  return {
    images: { scenes: splitCounts(sim.scenes, config.data.split), height: sim.imageSize, width: sim.imageSize },
    eeg: {
      subjects: sim.subjects,
      scenesPerSubject: sim.brainScenes,
      channels: sim.eegChannels,
      samples: sim.eegSamples + Math.round(sim.eegBaseline * sim.sampleRate),
      sampleRate: sim.sampleRate,
      epochStart: -Math.round(sim.eegBaseline * sim.sampleRate) / sim.sampleRate,
      noiseScale: sim.noise,
    },
  };
}

/** Runs the experiment's simulator with the config's seed and writes its dataset directory (atomically). */
export async function simulateDataset(config: ExperimentConfig, dir: string, options: { overwrite?: boolean } = {}): Promise<Dataset> {
  const write = { version: b2mVersion, name: `${config.name} (simulated)`, overwrite: options.overwrite };
  if (config.experiment === 'memory-decision') {
    return writeMemoryDecisionDataset(dir, memoryDecisionSimulator(memorySimulatorOptions(config), config.seed), write);
  }
  return writeDrivingSceneDataset(dir, drivingSceneSimulator(drivingSimulatorOptions(config), config.seed), write);
}
