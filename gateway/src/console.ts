import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GatewayApp } from './routes/types.js';

/** The console's files, served as they are (no build step): path → file name and content type. */
const FILES = [
  { url: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { url: '/console/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { url: '/console/app.css', file: 'app.css', type: 'text/css; charset=utf-8' },
] as const;

/** Short-lived caching: a redeployed console is picked up within a minute, and revalidation is cheap. */
const CACHE_CONTROL = 'public, max-age=60, must-revalidate';

/**
 * The package root: the nearest folder above this module that holds package.json. Works from gateway/src (vitest,
 * tsx) and from dist/gateway/src (after tsc), since both are below the root.
 */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
}

export interface ConsoleOptions {
  /** The folder holding index.html, app.js and app.css; default gateway/console under the package root. */
  dir?: string;
}

/** Serves the web console: GET / and its script and style sheet, read once at start-up; hidden from OpenAPI. */
export function registerConsole(app: GatewayApp, options: ConsoleOptions = {}): void {
  const dir = options.dir ?? join(packageRoot(), 'gateway', 'console');
  for (const { url, file, type } of FILES) {
    const body = readFileSync(join(dir, file));
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .header('content-type', type)
        .header('cache-control', CACHE_CONTROL)
        .header('x-content-type-options', 'nosniff')
        .send(body),
    );
  }
}
