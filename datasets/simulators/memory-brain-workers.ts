/** @file The memory-decision brain trials simulated on worker threads: the same numbers as on one thread, sooner. */

import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { DatasetError } from '../errors.js';
import {
  allocMemoryBrainArrays,
  memoryBrainTrials,
  simulateMemoryBrainRange,
  type MemoryBrainArrays,
  type MemoryBrainTrials,
  type MemoryDecisionConfig,
  type MemoryTaskTrials,
} from './memory-decision.js';

interface RangeJob {
  b2mMemoryBrainRange: 1;
  config: MemoryDecisionConfig;
  offers: { offer1: Int32Array; offer2: Int32Array };
  seed: number;
  arrays: MemoryBrainArrays;
  from: number;
  to: number;
}

type RangeReply = { ok: true } | { ok: false; message: string };

let entry: Promise<{ url: URL; bundled: boolean }> | null = null;

/**
 * This module when built. Under tsx or vitest it is TypeScript, which a plain worker cannot load; a TypeScript
 * loader in each worker (inherited through execArgv or registered there) costs most of a second, so instead this
 * module and what it imports (the data layer only) are bundled once into plain JavaScript with esbuild, present
 * wherever the sources run, and the workers start without the parent's loader flags.
 */
function workerEntry(): Promise<{ url: URL; bundled: boolean }> {
  entry ??= (async () => {
    const self = new URL(import.meta.url);
    if (!self.pathname.endsWith('.ts')) return { url: self, bundled: false };
    const esbuild = await import('esbuild');
    const out = await esbuild.build({ entryPoints: [fileURLToPath(self)], bundle: true, format: 'esm', platform: 'node', write: false, logLevel: 'silent' });
    return { url: new URL(`data:text/javascript,${encodeURIComponent(out.outputFiles[0]!.text)}`), bundled: true };
  })();
  return entry;
}

async function runRange(job: RangeJob): Promise<void> {
  const { url, bundled } = await workerEntry();
  return new Promise((resolve, reject) => {
    const worker = new Worker(url, bundled ? { workerData: job, execArgv: [] } : { workerData: job });
    let settled = false;
    worker.once('message', (reply: RangeReply) => {
      settled = true;
      if (reply.ok) resolve();
      else reject(new DatasetError(reply.message));
      void worker.terminate();
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new DatasetError(`a memory-decision simulator worker stopped (exit code ${code}) before finishing its trials`));
    });
  });
}

/**
 * `simulateMemoryBrain` on `threads` worker threads (default: the machine's available parallelism), each
 * simulating a contiguous range of trials into shared memory. Every trial draws from its own random sub-stream,
 * so the result is identical, byte for byte, to the single-threaded one whatever the thread count. Starting a
 * worker costs tens of milliseconds, so this pays for thousands of trials, not for hundreds.
 */
export async function simulateMemoryBrainParallel(
  config: MemoryDecisionConfig,
  task: MemoryTaskTrials,
  seed: number,
  options: { threads?: number } = {},
): Promise<MemoryBrainTrials> {
  const threads = options.threads ?? os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new DatasetError(`threads must be a positive integer (got ${threads})`);
  }
  const count = config.brain.subjects * config.brain.trialsPerSubject;
  const arrays = allocMemoryBrainArrays(config, true);
  const offers = { offer1: task.offer1, offer2: task.offer2 };
  const parts = Math.min(threads, count);
  const jobs: Promise<void>[] = [];
  for (let w = 0; w < parts; w++) {
    const from = Math.floor((w * count) / parts);
    const to = Math.floor(((w + 1) * count) / parts);
    jobs.push(runRange({ b2mMemoryBrainRange: 1, config, offers, seed, arrays, from, to }));
  }
  await Promise.all(jobs);
  return memoryBrainTrials(config, seed, arrays);
}

if (!isMainThread && (workerData as Partial<RangeJob> | null)?.b2mMemoryBrainRange === 1) {
  const job = workerData as RangeJob;
  let reply: RangeReply;
  try {
    simulateMemoryBrainRange(job.config, job.offers, job.seed, job.arrays, job.from, job.to);
    reply = { ok: true };
  } catch (err) {
    reply = { ok: false, message: (err as Error).message };
  }
  parentPort!.postMessage(reply);
}
