/** @file Where training runs: the cpu, cuda and webgpu execution providers of onnxruntime-node, checked up front and never swapped silently. */
import * as ort from 'onnxruntime-node';
import { add, encodeModel, Graph, toModel } from '../../graphs/index.js';
import { createSession, cudaUnavailableReason, type ExecutionProvider, type OptimizationLevel, type SessionOptions } from '../../graphs/train-session.js';
import { B2mError } from '../errors.js';

export const DEVICES = ['cpu', 'cuda', 'webgpu'] as const;
export type Device = ExecutionProvider;

/** The device asked for cannot run here; the message says why and how to get it. */
export class DeviceError extends B2mError {}

/** How sessions are made: the device and the CPU threading and graph optimization settings. */
export interface DeviceSettings {
  device: Device;
  /** Intra-op threads (CPU kernels; default: onnxruntime's choice, one per core). */
  threads?: number;
  /** onnxruntime graph optimization level; 'auto' (default) is 'basic' for graphs over 1,000 nodes and 'all' below. */
  graphOptimization?: OptimizationLevel;
}

export const CUDA_FIX =
  'Install the CUDA provider on a machine with internet access, an NVIDIA driver, CUDA 12 and cuDNN 9: ' +
  '`ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` (the default install skips that download); or train with `--device cpu`.';

/** Session options for the graphs' `createSession` and `TrainSession.create`. */
export function sessionOptions(settings: DeviceSettings): SessionOptions {
  const opts: SessionOptions = { executionProvider: settings.device, graphOptimizationLevel: settings.graphOptimization ?? 'auto' };
  if (settings.threads !== undefined) opts.intraOpNumThreads = settings.threads;
  return opts;
}

/**
 * Fails fast, before anything is compiled, when the device cannot be used: an unknown name, or CUDA without
 * onnxruntime-node's CUDA provider libraries. WebGPU is checked by `probeDevice` (it needs an adapter).
 */
export function checkDevice(device: string): asserts device is Device {
  if (!(DEVICES as readonly string[]).includes(device)) {
    throw new DeviceError(`device "${device}" is not one of ${DEVICES.join(', ')}; pick one with --device`);
  }
  if (device === 'cuda') {
    const reason = cudaUnavailableReason();
    if (reason !== null) throw new DeviceError(`device cuda was asked for, but ${reason}. ${CUDA_FIX}`);
  }
}

let probeModel: Uint8Array | undefined;

/** A one-node model (y = x + 1) to see whether a provider starts and computes. */
function tinyModel(): Uint8Array {
  if (!probeModel) {
    const g = new Graph({ floatType: 'float32', seed: 0, name: 'probe' });
    const x = g.input('x', 'float32', [4]);
    probeModel = encodeModel(toModel(g, { outputs: { y: add(x, 1) } }));
  }
  return probeModel;
}

/**
 * Whether the device starts and runs a tiny model correctly here; `reason` says why not. Used to list the
 * providers a machine has (tools/gpu-check.ts) and to fail fast before a long compile.
 */
export async function probeDevice(device: Device): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    checkDevice(device);
    const session = await createSession(tinyModel(), { executionProvider: device });
    try {
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(0, 1, 2, 3), [4]) });
      const y = out.y!.data as Float32Array;
      if (![1, 2, 3, 4].every((v, i) => y[i] === v)) return { ok: false, reason: `it computed ${Array.from(y).join(', ')} for 1, 2, 3, 4` };
    } finally {
      await session.release();
    }
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/** Throws a DeviceError naming the fix when the device cannot run here (after `checkDevice`, a real start). */
export async function requireDevice(device: string): Promise<Device> {
  checkDevice(device);
  if (device === 'cpu') return device;
  const probe = await probeDevice(device);
  if (!probe.ok) {
    const fix = device === 'cuda' ? CUDA_FIX : 'WebGPU needs a GPU adapter (Vulkan on Linux, Metal, or D3D12); or train with `--device cpu`.';
    throw new DeviceError(`device ${device} could not start: ${probe.reason} ${fix}`);
  }
  return device;
}
