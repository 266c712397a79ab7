/** @file `npm run bench`: runs every benchmark group in one process, prints a table for people, then one JSON object per line. */
import { benchBrowser } from './bench/browser.js';
import { benchStream } from './bench/datasets-stream.js';
import { benchExperiment } from './bench/experiment.js';
import { benchGraphs } from './bench/graphs.js';
import { benchRecurrence } from './bench/recurrence.js';
import { benchSimulators } from './bench/simulators.js';
import { benchTrain } from './bench/train.js';

/** One measured figure: `target` is the goal it is compared with, `direction` which side of it passes. */
export interface BenchResult {
  bench: string;
  value: number | null;
  unit: string;
  group: string;
  target?: number;
  direction?: 'max' | 'min';
  note?: string;
}

type Group = { name: string; run: (quick: boolean) => Promise<Omit<BenchResult, 'group'>[]> };

const groups: Group[] = [
  {
    name: 'graphs',
    run: async (quick) => benchGraphs(quick ? { runs: 5, tfjsRuns: 1 } : {}),
  },
  {
    name: 'datasets',
    run: async (quick) => {
      const r = await benchStream(quick ? { bytes: 2 ** 28 } : {});
      const size = `${(r.bytes / 1e9).toFixed(2)} GB in shuffled float32 batches`;
      return [
        { bench: 'stream_gbps', value: r.stream_gbps, unit: 'GB/s', target: 1, direction: 'min', note: `${size}, warm page cache` },
        { bench: 'stream_cold_gbps', value: r.stream_cold_gbps, unit: 'GB/s', note: `${size}, cold page cache (disk read)` },
        { bench: 'stream_cpu_gbps', value: r.stream_cpu_gbps, unit: 'GB/cpu-s', note: 'per CPU-second of this process: free of machine load' },
        { bench: 'stream_peak_rss_mb', value: r.stream_peak_rss_mb, unit: 'MB', target: 512, direction: 'max' },
      ];
    },
  },
  {
    name: 'simulators',
    run: async (quick) => {
      const r = await benchSimulators(quick ? { brainTrials: 600, scenes: 300 } : {});
      const mix = `memory-decision experiment: ${r.experiment_task_trials} task + ${r.experiment_brain_trials} brain trials, 60 bins, 64 neurons, one thread`;
      return [
        { bench: 'simulate_trials_per_s', value: r.simulate_trials_per_s, unit: 'trials/s', target: 50_000, direction: 'min', note: mix },
        { bench: 'simulate_trials_per_cpu_s', value: r.simulate_trials_per_cpu_s, unit: 'trials/cpu-s', note: 'the same per CPU-second: free of machine load' },
        { bench: 'simulate_task_trials_per_s', value: r.simulate_task_trials_per_s, unit: 'trials/s', note: 'task trials alone, 60 bins, one thread' },
        { bench: 'simulate_brain_trials_per_s', value: r.simulate_brain_trials_per_s, unit: 'trials/s', note: 'brain trials alone, 60 bins, 64 Poisson neurons, one thread' },
        { bench: 'simulate_brain_trials_per_cpu_s', value: r.simulate_brain_trials_per_cpu_s, unit: 'trials/cpu-s', note: 'the same per CPU-second: free of machine load' },
        { bench: 'simulate_brain_trials_parallel_per_s', value: r.simulate_brain_trials_parallel_per_s, unit: 'trials/s', note: `the same on ${r.brain_threads} worker threads, start-up included` },
        { bench: 'scenes_per_s', value: r.scenes_per_s, unit: 'scenes/s', note: '64×64 render + 32×64 EEG epoch' },
      ];
    },
  },
  {
    name: 'recurrence',
    run: async (quick) => {
      const r = await benchRecurrence(quick ? { runs: 5 } : {});
      return [
        { bench: 'gru_unrolled_forward_backward_ms', value: r.unrolled.forward_backward_ms, unit: 'ms', note: `${r.unrolled.nodes} nodes` },
        { bench: 'gru_scan_forward_backward_ms', value: r.scan.forward_backward_ms, unit: 'ms', note: `${r.scan.nodes} nodes` },
        { bench: 'gru_train_step_ms', value: r.train_step_ms, unit: 'ms', note: 'GRU student, 100 steps, batch 64, hidden 128, Adam' },
      ];
    },
  },
  {
    name: 'train',
    run: async (quick) => benchTrain({ quick }),
  },
  {
    name: 'experiment',
    run: async (quick) => {
      const r = await benchExperiment({ quick });
      return [
        { bench: 'experiment_minutes', value: r.minutes, unit: 'min', ...(quick ? {} : { target: 10, direction: 'max' as const }), note: `b2m run --scale ${r.scale}: both experiments, ${r.cells} cells, 2 jobs` },
        { bench: 'experiment_cpu_minutes', value: r.cpuMinutes, unit: 'cpu-min', note: 'CPU minutes of the bench process: the cost whatever the load' },
      ];
    },
  },
  {
    name: 'browser',
    run: async (quick) => {
      const r = await benchBrowser({ quick });
      return [
        { bench: 'browser_infer_ms', value: r.browser_infer_ms, unit: 'ms', note: `VAE encode+decode of one frame, Chromium wasm; ${r.setting}` },
        { bench: 'node_wasm_infer_ms', value: r.node_wasm_infer_ms, unit: 'ms', note: 'the same in onnxruntime-web (wasm) under Node' },
        { bench: 'node_infer_ms', value: r.node_infer_ms, unit: 'ms', note: 'the same in onnxruntime-node (CPU)' },
        { bench: 'browser_train_steps_per_s', value: r.browser_train_steps_per_s, unit: 'steps/s', note: 'VAE train-step graph in Chromium (wasm)' },
        { bench: 'node_train_steps_per_s', value: r.node_train_steps_per_s, unit: 'steps/s', note: 'the same graph in onnxruntime-node (CPU)' },
      ];
    },
  },
];

function format(value: number | null): string {
  if (value === null) return 'n/a';
  if (Math.abs(value) >= 1000) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toPrecision(3);
}

function verdict(r: BenchResult): string {
  if (r.target === undefined || r.value === null) return '';
  const ok = r.direction === 'max' ? r.value <= r.target : r.value >= r.target;
  return `${ok ? 'meets' : 'misses'} ${r.direction === 'max' ? '≤' : '≥'} ${r.target}`;
}

async function main(argv: string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const onlyArg = argv.find((a) => a.startsWith('--only='));
  const only = onlyArg ? onlyArg.slice('--only='.length).split(',') : null;
  const unknown = only?.filter((name) => !groups.some((g) => g.name === name)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown group ${unknown.join(', ')}; groups are ${groups.map((g) => g.name).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const results: BenchResult[] = [];
  for (const group of groups) {
    if (only && !only.includes(group.name)) continue;
    process.stderr.write(`bench: running ${group.name}…\n`);
    for (const r of await group.run(quick)) results.push({ group: group.name, ...r });
  }
  const rows = results.map((r) => [r.group, r.bench, format(r.value), r.unit, verdict(r), r.note ?? '']);
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i].length))) ?? [];
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
  console.log('');
  for (const r of results) console.log(JSON.stringify(r));
}

await main(process.argv.slice(2));
