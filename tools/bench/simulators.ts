/** @file Benchmark of both simulators: memory-decision task and brain trials per second, driving scenes (render + EEG) per second. */

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  resolveDrivingSceneConfig,
  resolveMemoryDecisionConfig,
  simulateDrivingEeg,
  simulateDrivingScenes,
  simulateMemoryBrain,
  simulateMemoryTask,
} from '../../datasets/simulators/index.js';

/** What `benchSimulators` measures; rates are per wall-clock second, `_cpu_` ones per second of process CPU time. */
export interface SimulatorBench {
  /** Memory-decision task trials (60 bins, 4 input features) per second. */
  simulate_trials_per_s: number;
  /** Brain trials (60 bins, 64 Poisson neurons, 8 latents) per second. */
  simulate_brain_trials_per_s: number;
  /** Driving scenes per second, each rendered at 64×64 with one 32-channel × 64-sample EEG epoch. */
  scenes_per_s: number;
  render_scenes_per_s: number;
  eeg_epochs_per_s: number;
  simulate_trials_per_cpu_s: number;
  simulate_brain_trials_per_cpu_s: number;
  scenes_per_cpu_s: number;
}

function timed<T>(run: () => T): { result: T; wall: number; cpu: number } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = run();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { result, wall, cpu: (cpu.user + cpu.system) / 1e6 };
}

/**
 * Times each generator on its own at the sizes the targets name (60 bins and 64 neurons; 64×64 scenes with a
 * 32 × 64 EEG epoch), after a small warm-up run so the JIT has compiled the hot loops.
 */
export function benchSimulators(options: { taskTrials?: number; brainTrials?: number; scenes?: number } = {}): SimulatorBench {
  const taskTrials = options.taskTrials ?? 100_000;
  const brainTrials = options.brainTrials ?? 2_000;
  const scenes = options.scenes ?? 2_000;
  const memory = (task: number, brain: number) =>
    resolveMemoryDecisionConfig({
      task: { trials: { train: task, val: 0, test: 0 } },
      brain: {
        subjects: 1,
        trialsPerSubject: brain,
        valFraction: 0,
        pairing: 'condition',
        neurons: 64,
        latentDims: 8,
        timing: { timeBins: 60, fixationBins: 3, offerBins: 4, delayBins: [10, 36], goGapBins: 2, responseBins: 2 },
      },
    });
  const driving = (n: number) =>
    resolveDrivingSceneConfig({
      images: { scenes: { train: n, val: 0, test: 0 } },
      eeg: { subjects: 1, scenesPerSubject: n, valFraction: 0 },
    });
  const warmMemory = memory(2_000, 100);
  simulateMemoryBrain(warmMemory, simulateMemoryTask(warmMemory, 1), 1);
  const warmDriving = driving(100);
  simulateDrivingEeg(warmDriving, simulateDrivingScenes(warmDriving, 1), 1);

  const memoryConfig = memory(taskTrials, brainTrials);
  const task = timed(() => simulateMemoryTask(memoryConfig, 2));
  const brain = timed(() => simulateMemoryBrain(memoryConfig, task.result, 2));
  const drivingConfig = driving(scenes);
  const render = timed(() => simulateDrivingScenes(drivingConfig, 2));
  const eeg = timed(() => simulateDrivingEeg(drivingConfig, render.result, 2));
  return {
    simulate_trials_per_s: taskTrials / task.wall,
    simulate_brain_trials_per_s: brainTrials / brain.wall,
    scenes_per_s: scenes / (render.wall + eeg.wall),
    render_scenes_per_s: scenes / render.wall,
    eeg_epochs_per_s: scenes / eeg.wall,
    simulate_trials_per_cpu_s: taskTrials / task.cpu,
    simulate_brain_trials_per_cpu_s: brainTrials / brain.cpu,
    scenes_per_cpu_s: scenes / (render.cpu + eeg.cpu),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const r = benchSimulators();
  console.log(JSON.stringify({ bench: 'simulate_trials_per_s', value: r.simulate_trials_per_s, unit: 'trials/s' }));
  console.log(JSON.stringify({ bench: 'simulate_brain_trials_per_s', value: r.simulate_brain_trials_per_s, unit: 'trials/s' }));
  console.log(JSON.stringify({ bench: 'scenes_per_s', value: r.scenes_per_s, unit: 'scenes/s' }));
  console.error(JSON.stringify(r));
}
