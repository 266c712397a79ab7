/** @file `b2m serve DIR`: a static file server on localhost for the web page and exported students, cross-origin isolated so wasm can use threads. */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { B2mError } from '../errors.js';
import { progressFor } from '../progress.js';
import type { GlobalOptions } from './global.js';

/** The folder cannot be served, or the port cannot be opened. */
export class ServeError extends B2mError {}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
};

/** Headers that make the page cross-origin isolated (SharedArrayBuffer, so onnxruntime-web can run wasm threads). */
const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `dir` read-only on `host:port` (port 0 picks a free one); folders show their index.html or a listing. */
export async function serveStatic(dir: string, options: { port?: number; host?: string } = {}): Promise<StaticServer> {
  const root = path.resolve(dir);
  let info;
  try {
    info = await stat(root);
  } catch {
    throw new ServeError(`${dir} does not exist. Give a folder built by tools/build-web.ts or written by \`b2m export\`.`);
  }
  if (!info.isDirectory()) throw new ServeError(`${dir} is a file; give the folder that holds it.`);
  const host = options.host ?? '127.0.0.1';
  const server = http.createServer((req, res) => {
    void respond(root, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new ServeError(
          err.code === 'EADDRINUSE'
            ? `port ${options.port} on ${host} is already in use; choose another with --port (or --port 0 for any free one).`
            : `cannot listen on ${host}:${options.port ?? 0} (${err.code ?? err.message}).`,
        ),
      );
    });
    server.listen(options.port ?? 8080, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function respond(root: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const send = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
    res.writeHead(status, { 'Content-Type': type, ...ISOLATION });
    res.end(body);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'Only GET and HEAD are served.\n');
  let rel: string;
  try {
    rel = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    return send(400, 'Bad path.\n');
  }
  const file = path.resolve(root, `.${rel}`);
  if (file !== root && !file.startsWith(root + path.sep)) return send(403, 'Outside the served folder.\n');
  let target = file;
  try {
    let info = await stat(target);
    if (info.isDirectory()) {
      if (!rel.endsWith('/')) {
        res.writeHead(301, { Location: `${rel}/`, ...ISOLATION });
        res.end();
        return;
      }
      const index = path.join(target, 'index.html');
      try {
        info = await stat(index);
        target = index;
      } catch {
        return send(200, await listing(target, rel), TYPES['.html']);
      }
    }
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(target).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': String(info.size),
      'Cache-Control': 'no-cache',
      ...ISOLATION,
    });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(target).pipe(res);
  } catch {
    send(404, `Not found: ${rel}\n`);
  }
}

async function listing(dir: string, rel: string): Promise<string> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  const items = entries.map((e) => `<li><a href="${esc(encodeURIComponent(e.name))}${e.isDirectory() ? '/' : ''}">${esc(e.name)}${e.isDirectory() ? '/' : ''}</a></li>`);
  return `<!doctype html><meta charset="utf-8"><title>${esc(rel)}</title><h1>${esc(rel)}</h1><ul>${items.join('')}</ul>\n`;
}

interface ServeOptions extends GlobalOptions {
  dir: string;
  port: number;
  host: string;
}

/** The `serve` stage. */
export const serveCommand: CommandModule<GlobalOptions, ServeOptions> = {
  command: 'serve <dir>',
  describe: 'Serve a folder on localhost: the web page built by tools/build-web.ts, or exported students',
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .positional('dir', { type: 'string', demandOption: true, describe: 'Folder to serve (a built site, or an export folder)' })
    .option('port', { alias: 'p', type: 'number', default: 8080, requiresArg: true, describe: 'Port to listen on (0: any free port)' })
    .option('host', { type: 'string', default: '127.0.0.1', requiresArg: true, describe: 'Address to listen on (127.0.0.1 keeps it on this machine)' })
    .example('$0 serve web', 'serve the built page at http://127.0.0.1:8080/')
    .example('$0 serve runs/default/export --port 9000', 'serve exported students for another page') as unknown as Argv<ServeOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new ServeError(`--port must be a whole number from 0 to 65535, got ${args.port}.`);
    const server = await serveStatic(args.dir, { port: args.port, host: args.host });
    progress.result(`Serving ${path.resolve(args.dir)} at ${server.url} (Ctrl-C stops).`, { url: server.url, dir: path.resolve(args.dir) });
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void server.close().then(resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  },
};
