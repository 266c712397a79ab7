/**
 * @file The GPU check: which execution providers load here (and why the others do not), then both students
 * trained for a few hundred steps at the default sizes on every GPU provider that loads, in steps/s against the
 * CPU. Run on a GPU machine: `npx tsx tools/gpu-check.ts [--steps N] [--json FILE]`.
 */
import { writeFile } from 'node:fs/promises';
import type { ExperimentKind } from '../pipeline/config.js';
import { type Device, DEVICES, probeDevice } from '../pipeline/train/device.js';
import { measureStepRate, type StepRate } from './bench/train.js';

interface Report {
  providers: { device: Device; loads: boolean; reason?: string }[];
  rates: (StepRate & { speedupOverCpu: number | null })[];
  errors: { device: Device; experiment: ExperimentKind; message: string }[];
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const steps = Number(argValue('--steps') ?? 200);
  const cpuSteps = Number(argValue('--cpu-steps') ?? Math.max(5, Math.round(steps / 10)));
  const report: Report = { providers: [], rates: [], errors: [] };
  for (const device of DEVICES) {
    const probe = await probeDevice(device);
    report.providers.push(probe.ok ? { device, loads: true } : { device, loads: false, reason: probe.reason });
    console.log(probe.ok ? `${device}: loads` : `${device}: does not load: ${probe.reason}`);
  }
  const cpu = new Map<ExperimentKind, number>();
  for (const device of report.providers.filter((p) => p.loads).map((p) => p.device)) {
    for (const experiment of ['memory-decision', 'driving'] as const) {
      const n = device === 'cpu' ? (experiment === 'driving' ? Math.max(3, Math.round(cpuSteps / 4)) : cpuSteps) : steps;
      try {
        const rate = await measureStepRate(experiment, 'both', device, n);
        if (device === 'cpu') cpu.set(experiment, rate.stepsPerSecond);
        const base = cpu.get(experiment);
        const speedupOverCpu = base === undefined ? null : rate.stepsPerSecond / base;
        report.rates.push({ ...rate, speedupOverCpu });
        console.log(
          `${device.padEnd(7)} ${experiment.padEnd(16)} ${n} steps of ${rate.rows} rows: ${rate.stepsPerSecond.toFixed(2)} steps/s` +
            `${speedupOverCpu === null ? '' : ` (${speedupOverCpu.toFixed(2)}× cpu)`}, host ${rate.hostMs.toFixed(2)} ms/step, compile + session ${rate.compileSeconds.toFixed(1)} s`,
        );
      } catch (err) {
        report.errors.push({ device, experiment, message: (err as Error).message });
        console.log(`${device.padEnd(7)} ${experiment.padEnd(16)} failed: ${(err as Error).message}`);
      }
    }
  }
  const untested = report.providers.filter((p) => !p.loads && p.device !== 'cpu').map((p) => p.device);
  if (untested.length > 0) console.log(`not tested here: ${untested.join(', ')} (see the reasons above)`);
  const json = argValue('--json');
  if (json) await writeFile(json, `${JSON.stringify(report, null, 1)}\n`);
  console.log(JSON.stringify(report));
}

await main();
