import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKeyStore } from '../../../lib/src/api-keys.js';
import { MemoryCache } from '../../../lib/src/cache/memory-cache.js';
import { createLogger } from '../../../lib/src/logger.js';
import { DirectoryObjectStore } from '../../../lib/src/objectstore/directory-object-store.js';
import { MemoryStore } from '../../../lib/src/store/memory-store.js';
import { loadRecsvcConfig } from '../../../recsvc/src/config.js';
import { startRecsvc, type RunningRecsvc } from '../../../recsvc/src/server.js';
import { loadTrainerConfig } from '../../../trainer/src/config.js';
import { startTrainer, type RunningTrainerWithWorker } from '../../../trainer/src/server.js';
import { buildGateway, type GatewayDeps } from '../../src/app.js';
import type { GatewayApp } from '../../src/routes/types.js';
import { Upstreams } from '../../src/upstreams.js';

export const log = createLogger('test', (process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent');

/** recsvc and the trainer (API and worker) on embedded backends; the trainer checks `keys` too. */
export interface Backend {
  recsvc: RunningRecsvc;
  trainer: RunningTrainerWithWorker;
  upstreams: Upstreams;
  close(): Promise<void>;
}

export async function startBackend(keys: ApiKeyStore): Promise<Backend> {
  const store = new MemoryStore();
  const cache = new MemoryCache();
  const objects = new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-sec-')));
  await objects.ensureBucket();
  const recsvc = await startRecsvc(loadRecsvcConfig({ RECSVC_PORT: '0', RECSVC_METRICS_PORT: '0' }), log, { store, cache, objects, apiKeys: keys });
  const trainer = await startTrainer(
    loadTrainerConfig({ TRAINER_PORT: '0', TRAINER_METRICS_PORT: '0', TRAIN_CRON: 'off', REFRESH_CRON: 'off' }),
    log,
    { store, cache, objects, apiKeys: keys },
  );
  const upstreams = new Upstreams(`127.0.0.1:${recsvc.port}`, `127.0.0.1:${trainer.port}`, 5_000);
  return {
    recsvc,
    trainer,
    upstreams,
    async close() {
      upstreams.close();
      await Promise.all([recsvc.shutdown(2_000), trainer.shutdown(2_000)]);
    },
  };
}

export interface Gateway {
  app: GatewayApp;
  port: number;
  url: string;
}

export async function startGateway(backend: Backend, deps: Omit<GatewayDeps, 'upstreams' | 'log'>): Promise<Gateway> {
  const app = await buildGateway({ upstreams: backend.upstreams, log, ...deps });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as net.AddressInfo).port;
  return { app, port, url: `http://127.0.0.1:${port}` };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The socket ended with an error (e.g. ECONNRESET) before or after the response. */
  socketError?: string;
}

/**
 * Sends raw bytes on a fresh TCP connection and parses the first HTTP response; resolves when the server closes the
 * connection or a complete response (by Content-Length) has arrived. `after` bytes are written once the first
 * chunk went out (for slow or huge bodies).
 */
export function rawRequest(port: number, head: string | Buffer, options: { body?: Buffer; holdOpen?: boolean } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let socketError: string | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      const text = data.toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) {
        if (socket.destroyed || socket.readableEnded) {
          done = true;
          reject(new Error(`no HTTP response (socket error: ${socketError ?? 'none'}, got ${JSON.stringify(text.slice(0, 200))})`));
        }
        return;
      }
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const bodyBytes = data.subarray(Buffer.byteLength(text.slice(0, split + 4), 'latin1'));
      const length = Number(headers['content-length'] ?? NaN);
      if (Number.isFinite(length) && bodyBytes.length < length && !socket.destroyed && !socket.readableEnded) return;
      done = true;
      socket.destroy();
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: bodyBytes.toString('utf8'), socketError });
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      finish();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      socketError = err.code ?? err.message;
    });
    socket.on('close', finish);
    socket.on('end', finish);
    socket.write(head);
    if (options.body) socket.write(options.body, (err) => err && (socketError = (err as NodeJS.ErrnoException).code));
  });
}
