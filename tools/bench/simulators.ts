/** @file Benchmark of both simulators: the memory-decision experiment, its task and brain trials, driving scenes (render + EEG), per second. */

import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  resolveDrivingSceneConfig,
  resolveMemoryDecisionConfig,
  simulateDrivingEeg,
  simulateDrivingScenes,
  simulateMemoryBrain,
  simulateMemoryBrainParallel,
  simulateMemoryTask,
} from '../../datasets/simulators/index.js';

/** What `benchSimulators` measures; rates are per wall-clock second, `_cpu_` ones per second of process CPU time. */
export interface SimulatorBench {
  /**
   * The whole memory-decision experiment, on one thread: its default mix of task trials (60 bins, 4 input
   * features) and brain trials (here 60 bins, 64 Poisson neurons, 8 latents), counted together.
   */
  simulate_trials_per_s: number;
  simulate_trials_per_cpu_s: number;
  /** The task and brain trials of that experiment. */
  experiment_task_trials: number;
  experiment_brain_trials: number;
  /** Task trials alone (60 bins, 4 input features), one thread. */
  simulate_task_trials_per_s: number;
  /** Brain trials alone (60 bins, 64 Poisson neurons, 8 latents), one thread. */
  simulate_brain_trials_per_s: number;
  simulate_brain_trials_per_cpu_s: number;
  /** Brain trials alone on `brain_threads` worker threads, worker start-up included. */
  simulate_brain_trials_parallel_per_s: number;
  brain_threads: number;
  /** Driving scenes per second, each rendered at 64×64 with one 32-channel × 64-sample EEG epoch. */
  scenes_per_s: number;
  render_scenes_per_s: number;
  eeg_epochs_per_s: number;
  scenes_per_cpu_s: number;
}

function cpuSeconds(): number {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1e6;
}

function timed<T>(run: () => T): { result: T; wall: number; cpu: number } {
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  const result = run();
  return { result, wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - cpu0 };
}

/** Brain timing on the 60-bin grid the target names (the default recording grid has 80 bins). */
const BRAIN_60_BINS = { timeBins: 60, fixationBins: 3, offerBins: 4, delayBins: [10, 36] as [number, number], goGapBins: 2, responseBins: 2 };

/**
 * Times each generator at the sizes the targets name (60 bins and 64 neurons; 64×64 scenes with a 32 × 64 EEG
 * epoch), after a small warm-up run so the JIT has compiled the hot loops: the default memory-decision experiment
 * end to end, its brain trials alone on one thread and on worker threads, and the driving scenes.
 */
export async function benchSimulators(
  options: { brainTrials?: number; scenes?: number; threads?: number } = {},
): Promise<SimulatorBench> {
  const brainTrials = options.brainTrials ?? 3_000;
  const scenes = options.scenes ?? 2_000;
  const threads = options.threads ?? os.availableParallelism();
  const experiment = resolveMemoryDecisionConfig({ brain: { neurons: 64, latentDims: 8, timing: BRAIN_60_BINS } });
  const brainOnly = (n: number) =>
    resolveMemoryDecisionConfig({
      task: { trials: { train: 10, val: 0, test: 0 } },
      brain: { subjects: 1, trialsPerSubject: n, valFraction: 0, pairing: 'condition', neurons: 64, latentDims: 8, timing: BRAIN_60_BINS },
    });
  const driving = (n: number) =>
    resolveDrivingSceneConfig({
      images: { scenes: { train: n, val: 0, test: 0 } },
      eeg: { subjects: 1, scenesPerSubject: n, valFraction: 0 },
    });
  const warm = brainOnly(300);
  const warmTask = simulateMemoryTask(warm, 1);
  simulateMemoryBrain(warm, warmTask, 1);
  await simulateMemoryBrainParallel(warm, warmTask, 1, { threads });
  const warmDriving = driving(100);
  simulateDrivingEeg(warmDriving, simulateDrivingScenes(warmDriving, 1), 1);

  const taskRun = timed(() => simulateMemoryTask(experiment, 2));
  const brainRun = timed(() => simulateMemoryBrain(experiment, taskRun.result, 2));
  const taskTrials = taskRun.result.count;
  const experimentBrain = brainRun.result.count;

  const brainConfig = brainOnly(brainTrials);
  const brainTask = simulateMemoryTask(brainConfig, 3);
  const brain = timed(() => simulateMemoryBrain(brainConfig, brainTask, 3));
  const parallelStart = performance.now();
  await simulateMemoryBrainParallel(brainConfig, brainTask, 3, { threads });
  const parallelWall = (performance.now() - parallelStart) / 1000;

  const drivingConfig = driving(scenes);
  const render = timed(() => simulateDrivingScenes(drivingConfig, 2));
  const eeg = timed(() => simulateDrivingEeg(drivingConfig, render.result, 2));
  return {
    simulate_trials_per_s: (taskTrials + experimentBrain) / (taskRun.wall + brainRun.wall),
    simulate_trials_per_cpu_s: (taskTrials + experimentBrain) / (taskRun.cpu + brainRun.cpu),
    experiment_task_trials: taskTrials,
    experiment_brain_trials: experimentBrain,
    simulate_task_trials_per_s: taskTrials / taskRun.wall,
    simulate_brain_trials_per_s: brainTrials / brain.wall,
    simulate_brain_trials_per_cpu_s: brainTrials / brain.cpu,
    simulate_brain_trials_parallel_per_s: brainTrials / parallelWall,
    brain_threads: threads,
    scenes_per_s: scenes / (render.wall + eeg.wall),
    render_scenes_per_s: scenes / render.wall,
    eeg_epochs_per_s: scenes / eeg.wall,
    scenes_per_cpu_s: scenes / (render.cpu + eeg.cpu),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const r = await benchSimulators();
  console.log(JSON.stringify({ bench: 'simulate_trials_per_s', value: r.simulate_trials_per_s, unit: 'trials/s' }));
  console.log(JSON.stringify({ bench: 'simulate_brain_trials_per_s', value: r.simulate_brain_trials_per_s, unit: 'trials/s' }));
  console.log(JSON.stringify({ bench: 'simulate_brain_trials_parallel_per_s', value: r.simulate_brain_trials_parallel_per_s, unit: 'trials/s' }));
  console.log(JSON.stringify({ bench: 'scenes_per_s', value: r.scenes_per_s, unit: 'scenes/s' }));
  console.error(JSON.stringify(r));
}
