import { describe, expect, it } from 'vitest';
import { cudaUnavailableReason } from '../../graphs/train-session.js';
import { checkDevice, DeviceError, probeDevice, requireDevice } from '../../pipeline/train/device.js';

describe('devices', () => {
  it('runs a model on the CPU', async () => {
    expect(await probeDevice('cpu')).toEqual({ ok: true });
    expect(await requireDevice('cpu')).toBe('cpu');
  });

  it('rejects an unknown device, naming the choices', () => {
    expect(() => checkDevice('tpu')).toThrow(DeviceError);
    expect(() => checkDevice('tpu')).toThrow(/"tpu" is not one of cpu, cuda, webgpu/);
  });

  it('cuda without its provider libraries is an error naming the missing files and the fix; with them it starts or says why not', async () => {
    if (cudaUnavailableReason() === null) {
      const probe = await probeDevice('cuda');
      if (probe.ok) expect(await requireDevice('cuda')).toBe('cuda');
      else await expect(requireDevice('cuda')).rejects.toThrow(DeviceError);
      return;
    }
    let error: unknown;
    try {
      await requireDevice('cuda');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DeviceError);
    const message = (error as Error).message;
    expect(message).toContain('libonnxruntime_providers_cuda.so');
    expect(message).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci');
    expect((error as { userError?: boolean }).userError).toBe(true);
    expect((await probeDevice('cuda')).ok).toBe(false);
  });

  it('webgpu either computes correctly or fails with a DeviceError, never falling back to the CPU', async () => {
    const probe = await probeDevice('webgpu');
    if (probe.ok) {
      expect(await requireDevice('webgpu')).toBe('webgpu');
    } else {
      await expect(requireDevice('webgpu')).rejects.toThrow(/device webgpu could not start: .*--device cpu/s);
    }
  });
});
