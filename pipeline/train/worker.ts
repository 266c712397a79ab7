/**
 * @file The training loop in a worker thread: `session.run` blocks its thread, so the main thread stays free for
 * progress and signals. Ctrl-C (SIGINT) or SIGTERM asks the worker to checkpoint after its current step and exit.
 *
 * Ending a worker is always cooperative. `Worker.terminate()` while onnxruntime-node's `run` is on the worker's
 * stack makes the binding throw a C++ `Napi::Error` into a terminating isolate, which aborts the whole process
 * (`terminate called after throwing an instance of 'Napi::Error'`, about one kill in ten here). So `kill` raises a
 * flag that the loop reads before each step; the worker then releases its sessions and exits on its own, leaving
 * what a crash after that step would leave: the periodic checkpoints and nothing more.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { B2mError } from '../errors.js';
import { CheckpointError } from './checkpoint.js';
import { DeviceError } from './device.js';
import { NullControlError } from './null-controls.js';
import { TrainDataError } from './teacher-data.js';
import { train, TrainingError, type TrainOptions, type TrainProgress, type TrainResult } from './trainer.js';

/** Options that cross to the worker: plain data (no callbacks). */
export type WorkerTrainOptions = Omit<TrainOptions, 'shouldStop' | 'onProgress' | 'onBatch'>;

interface WorkerInput {
  b2mTrainWorker: 1;
  options: WorkerTrainOptions;
  /** Int32 flag: STOP asks the loop to checkpoint and return after its current step, KILL to end without one. */
  stop: SharedArrayBuffer;
}

type WorkerMessage =
  | { type: 'progress'; event: TrainProgress }
  | { type: 'done'; result: TrainResult }
  | { type: 'error'; name: string; message: string; userError: boolean; stack?: string };

/** A training run in a worker. */
export interface TrainingWorker {
  /** Settles when the worker finishes, stops or fails. */
  readonly result: Promise<TrainResult>;
  /** Asks the worker to checkpoint after its current step and return (`stopped: true`). */
  stop(): void;
  /** Ends the worker after its current step, without a checkpoint (as a crash after that step would). */
  kill(): Promise<void>;
  readonly threadId: number;
}

/** Values of the shared flag. */
const RUN = 0;
const STOP = 1;
const KILL = 2;

/** How long `kill` waits for the loop to notice the flag before terminating the thread anyway. */
const KILL_GRACE_MS = 120_000;

const ERRORS: Record<string, new (message: string) => Error> = {
  TrainingError,
  TrainDataError,
  DeviceError,
  CheckpointError,
  NullControlError,
};

/** The worker's error rebuilt on this side: the same class for the trainer's own, a B2mError for other user errors. */
function rebuild(m: Extract<WorkerMessage, { type: 'error' }>): Error {
  const Known = ERRORS[m.name];
  if (Known) return new Known(m.message);
  if (m.userError) {
    const err = new B2mError(m.message);
    err.name = m.name;
    return err;
  }
  const err = new Error(`training worker failed: ${m.message}`);
  if (m.stack) err.stack = m.stack;
  return err;
}

/**
 * The worker's entry: this module itself when built. Under tsx or vitest this module is TypeScript, which a plain
 * worker cannot load, and Node 20 does not apply `--import tsx` in a worker's execArgv to the worker's own entry;
 * so a small module registers tsx's loader first and then imports this one.
 */
function workerEntry(): URL {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return self;
  const api = pathToFileURL(path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs'));
  const code = `const { register } = await import(${JSON.stringify(api.href)}); register(); await import(${JSON.stringify(self.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

/** Starts `train(options)` in a worker thread. */
export function startTrainingWorker(options: WorkerTrainOptions, onProgress?: (event: TrainProgress) => void): TrainingWorker {
  const stop = new SharedArrayBuffer(4);
  const flag = new Int32Array(stop);
  const input: WorkerInput = { b2mTrainWorker: 1, options, stop };
  const worker = new Worker(workerEntry(), { workerData: input });
  let settled = false;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const result = new Promise<TrainResult>((resolve, reject) => {
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') onProgress?.(m.event);
      else if (m.type === 'done') {
        settled = true;
        resolve(m.result);
      } else {
        settled = true;
        reject(rebuild(m));
      }
    });
    worker.on('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new TrainingError(`the training worker ended (exit code ${code}) before finishing; resume from its last checkpoint`));
    });
  });
  return {
    result,
    threadId: worker.threadId,
    stop: () => {
      Atomics.compareExchange(flag, 0, RUN, STOP);
    },
    kill: async () => {
      Atomics.store(flag, 0, KILL);
      // A loop stuck inside one step for minutes is ended the hard way, accepting the risk above.
      const late = setTimeout(() => void worker.terminate(), KILL_GRACE_MS);
      await exited;
      clearTimeout(late);
    },
  };
}

/**
 * Trains in a worker and waits for it. While it runs, the first SIGINT or SIGTERM asks it to checkpoint and stop
 * (the result then has `stopped: true`); a second one ends it after its current step, without a checkpoint.
 */
export async function trainInWorker(options: WorkerTrainOptions, onProgress?: (event: TrainProgress) => void): Promise<TrainResult> {
  const run = startTrainingWorker(options, onProgress);
  let asked = false;
  const onSignal = (): void => {
    if (asked) void run.kill();
    else run.stop();
    asked = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run.result;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function workerMain(input: WorkerInput): Promise<void> {
  const flag = new Int32Array(input.stop);
  const port = parentPort!;
  try {
    const result = await train({
      ...input.options,
      shouldStop: () => {
        const asked = Atomics.load(flag, 0);
        if (asked === KILL) throw new TrainingError('the training worker was ended (killed) before finishing; resume from its last checkpoint');
        return asked === STOP;
      },
      onProgress: (event) => port.postMessage({ type: 'progress', event } satisfies WorkerMessage),
    });
    port.postMessage({ type: 'done', result } satisfies WorkerMessage);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const userError = (e as { userError?: unknown }).userError === true;
    port.postMessage({ type: 'error', name: e.name, message: e.message, userError, stack: e.stack } satisfies WorkerMessage);
  }
}

if (!isMainThread && (workerData as Partial<WorkerInput> | null)?.b2mTrainWorker === 1) {
  await workerMain(workerData as WorkerInput);
}
