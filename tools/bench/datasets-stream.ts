/** @file Benchmark: stream a multi-gigabyte sharded Arrow IPC table into shuffled float32 batches; speed and memory. */

import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Field, Int32, Schema, type RecordBatch } from 'apache-arrow';
import { createBatcher } from '../../datasets/batcher.js';
import { recordBatchFromColumns } from '../../datasets/record-batch.js';
import { writeTable } from '../../datasets/table-io.js';
import { fixedShapeTensorField } from '../../datasets/tensor-column.js';

export interface StreamBenchOptions {
  /** Tensor bytes to write and stream (default 2 GiB). */
  bytes?: number;
  /** Row shape of the tensor column (default [64, 60]: 64 time bins of 60 features, 15 KiB a row). */
  shape?: readonly [number, number];
  batchSize?: number;
  /** Shuffle buffer rows (default 8192). */
  bufferSize?: number;
  maxRowsPerShard?: number;
  seed?: number;
  /** Parent of the temporary dataset directory (default the OS temp dir). */
  tmpDir?: string;
}

export interface StreamBenchResult {
  /**
   * Tensor gigabytes (1e9 bytes) delivered per second in shuffled batches, warm page cache: the table was just
   * written, so the kernel serves it from memory (as it does any table smaller than free memory after one pass).
   */
  stream_gbps: number;
  /**
   * The same from a cold page cache: each shard's cached pages are dropped first (`dd iflag=nocache`), so the
   * disk is read. Null where `dd` cannot drop them.
   */
  stream_cold_gbps: number | null;
  /** Peak resident set size during streaming, over the process's size when the benchmark started, in MiB. */
  stream_peak_rss_mb: number;
  bytes: number;
  rows: number;
  stream_seconds: number;
  stream_cold_seconds: number | null;
  /** Tensor gigabytes per CPU-second this process spent streaming warm (all its threads): speed free of machine load. */
  stream_cpu_gbps: number;
  write_seconds: number;
}

/** Drops the page cache of `files` (GNU dd's `nocache` flag advises the kernel to evict them); false if it cannot. */
function dropCache(files: readonly string[]): boolean {
  for (const file of files) {
    const r = spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
    if (r.status !== 0) return false;
  }
  return true;
}

/**
 * Writes a sharded table of float32 tensor rows, streams it through a shuffling batcher (releasing each batch once
 * read, as a training loop does after its step) from a warm page cache and then from a cold one, and cleans up.
 */
export async function benchStream(options: StreamBenchOptions = {}): Promise<StreamBenchResult> {
  const startRss = process.memoryUsage.rss();
  const [time, features] = options.shape ?? [64, 60];
  const rowSize = time * features;
  const rows = Math.ceil((options.bytes ?? 2 ** 31) / (rowSize * 4));
  const batchSize = options.batchSize ?? 256;
  const dir = await mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), 'b2m-bench-stream-'));
  try {
    const schema = new Schema([
      new Field('trial_id', new Int32(), false),
      fixedShapeTensorField('inputs', [time, features]),
      new Field('label', new Int32(), false),
    ]);
    const chunkRows = 512;
    const values = new Float32Array(chunkRows * rowSize);
    const ids = new Int32Array(chunkRows);
    const labels = new Int32Array(chunkRows);
    function* chunks(): Generator<RecordBatch> {
      for (let start = 0; start < rows; start += chunkRows) {
        const n = Math.min(chunkRows, rows - start);
        for (let r = 0; r < n; r++) {
          ids[r] = start + r;
          labels[r] = (start + r) & 1;
          values.fill((start + r) * 1e-3, r * rowSize, (r + 1) * rowSize);
        }
        yield recordBatchFromColumns(schema, {
          trial_id: ids.subarray(0, n),
          inputs: values.subarray(0, n * rowSize),
          label: labels.subarray(0, n),
        });
      }
    }
    const file = path.join(dir, 'rows.arrow');
    const writeStart = performance.now();
    const written = await writeTable(file, chunks(), { maxRowsPerShard: options.maxRowsPerShard ?? 16384 });
    const writeSeconds = (performance.now() - writeStart) / 1000;

    let peak = process.memoryUsage.rss();
    const stream = async (): Promise<{ seconds: number; cpu: number }> => {
      const batcher = createBatcher({
        files: written.files,
        tensorColumns: ['inputs'],
        scalarColumns: ['label'],
        batchSize,
        shuffle: { bufferSize: options.bufferSize ?? 8192, seed: options.seed ?? 1 },
      });
      const timer = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
      }, 5);
      let delivered = 0;
      let checksum = 0;
      const cpuStart = process.cpuUsage();
      const streamStart = performance.now();
      try {
        for await (const batch of batcher) {
          delivered += batch.rows;
          checksum += batch.inputs[0]!;
          peak = Math.max(peak, process.memoryUsage.rss());
          batch.release();
        }
      } finally {
        clearInterval(timer);
      }
      const seconds = (performance.now() - streamStart) / 1000;
      const cpu = process.cpuUsage(cpuStart);
      if (delivered !== rows || !Number.isFinite(checksum)) {
        throw new Error(`stream benchmark delivered ${delivered} of ${rows} rows`);
      }
      return { seconds, cpu: (cpu.user + cpu.system) / 1e6 };
    };
    const warm = await stream();
    const cold = dropCache(written.files) ? await stream() : null;
    const bytes = rows * rowSize * 4;
    return {
      stream_gbps: bytes / 1e9 / warm.seconds,
      stream_cold_gbps: cold ? bytes / 1e9 / cold.seconds : null,
      stream_peak_rss_mb: (peak - startRss) / 2 ** 20,
      bytes,
      rows,
      stream_seconds: warm.seconds,
      stream_cold_seconds: cold?.seconds ?? null,
      stream_cpu_gbps: bytes / 1e9 / warm.cpu,
      write_seconds: writeSeconds,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const r = await benchStream();
  console.log(JSON.stringify({ bench: 'stream_gbps', value: r.stream_gbps, unit: 'GB/s' }));
  console.log(JSON.stringify({ bench: 'stream_cold_gbps', value: r.stream_cold_gbps, unit: 'GB/s' }));
  console.log(JSON.stringify({ bench: 'stream_peak_rss_mb', value: r.stream_peak_rss_mb, unit: 'MB' }));
  console.error(JSON.stringify(r));
}
