/** @file `b2m serve`: static files with their types and cross-origin isolation, folders, refusals, and the CLI stage started and stopped. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../pipeline/cli.js';
import { ServeError, type StaticServer, serveStatic } from '../../pipeline/commands/serve.js';

let root: string;
let site: string;
let server: StaticServer;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'b2m-serve-'));
  site = path.join(root, 'site');
  await mkdir(path.join(site, 'models'), { recursive: true });
  await mkdir(path.join(site, 'ort'), { recursive: true });
  await writeFile(path.join(site, 'index.html'), '<!doctype html><title>page</title>');
  await writeFile(path.join(site, 'ort', 'runtime.wasm'), Buffer.from([0, 97, 115, 109]));
  await writeFile(path.join(site, 'models', 'student.onnx'), Buffer.from([8, 8, 18, 3]));
  await writeFile(path.join(root, 'secret.txt'), 'outside the site');
  server = await serveStatic(site, { port: 0 });
});

afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

/** A raw GET, so paths reach the server exactly as written (no URL normalisation by the client). */
function get(rawPath: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: rawPath, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serveStatic', () => {
  it('serves files with their content types and the headers that allow wasm threads', async () => {
    const wasm = await get('/ort/runtime.wasm');
    expect(wasm.status).toBe(200);
    expect(wasm.headers['content-type']).toBe('application/wasm');
    expect([...wasm.body]).toEqual([0, 97, 115, 109]);
    expect(wasm.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(wasm.headers['cross-origin-embedder-policy']).toBe('require-corp');
    const model = await get('/models/student.onnx');
    expect(model.headers['content-type']).toBe('application/octet-stream');
    expect(model.headers['content-length']).toBe('4');
  });

  it('answers a folder with its index.html, or a listing when it has none', async () => {
    const index = await get('/');
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.body.toString()).toContain('<title>page</title>');
    expect((await get('/models')).status).toBe(301);
    const listing = await get('/models/');
    expect(listing.body.toString()).toContain('<a href="student.onnx">student.onnx</a>');
  });

  it('never serves files outside the folder, and says what is missing', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/models/..%2f..%2fsecret.txt']) {
      const r = await get(p);
      expect(r.status === 403 || r.status === 404).toBe(true);
      expect(r.body.toString()).not.toContain('outside the site');
    }
    const missing = await get('/nothing.onnx');
    expect(missing.status).toBe(404);
    expect(missing.body.toString()).toBe('Not found: /nothing.onnx\n');
  });

  it('refuses a folder that does not exist and a port in use, saying what to do', async () => {
    await expect(serveStatic(path.join(root, 'absent'))).rejects.toThrow(ServeError);
    await expect(serveStatic(path.join(root, 'absent'))).rejects.toThrow(/does not exist\. Give a folder built by tools\/build-web\.ts/);
    const port = Number(new URL(server.url).port);
    await expect(serveStatic(site, { port })).rejects.toThrow(`port ${port} on 127.0.0.1 is already in use; choose another with --port`);
  });
});

describe('b2m serve', () => {
  it('prints its address, serves until interrupted, and returns cleanly', async () => {
    const before = process.listeners('SIGINT');
    const write = process.stdout.write.bind(process.stdout);
    let out = '';
    process.stdout.write = ((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    }) as typeof process.stdout.write;
    let running: Promise<number>;
    try {
      running = main(['serve', site, '--port', '0', '--json']);
      await expect.poll(() => out.includes('"url"'), { timeout: 60_000 }).toBe(true);
    } finally {
      process.stdout.write = write;
    }
    const { url } = JSON.parse(out.split('\n').find((l) => l.includes('"url"')) as string) as { url: string };
    expect(await (await fetch(url)).text()).toContain('<title>page</title>');
    const added = process.listeners('SIGINT').filter((l) => !before.includes(l));
    expect(added).toHaveLength(1);
    (added[0] as () => void)();
    expect(await running).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  });

  it('exits non-zero with the reason for a folder that does not exist', async () => {
    const write = process.stderr.write.bind(process.stderr);
    let err = '';
    process.stderr.write = ((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(await main(['serve', path.join(root, 'absent')])).toBe(1);
    } finally {
      process.stderr.write = write;
    }
    expect(err).toContain('absent does not exist. Give a folder built by tools/build-web.ts');
  });
});
