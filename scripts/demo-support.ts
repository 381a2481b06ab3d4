/**
 * Helpers of the one-command demo (scripts/demo.ts): its flags, the listeners it opens and a clear message when a
 * port is taken, and whether a stored model version was trained on the data the store holds now.
 */
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { MODEL_TYPES, type ModelTypeName } from '../lib/src/domain.js';
import { dataDifference } from '../lib/src/models/fingerprint.js';
import { ARTIFACT_ID_MAPS } from '../lib/src/models/layout.js';
import type { ModelRegistry } from '../lib/src/models/registry.js';
import type { Store } from '../lib/src/store/types.js';
import { parseCount, UsageError } from './generate-data.js';

export const DEMO_USAGE = `usage: npm start [-- options]

Starts every service in one process on embedded defaults (or MONGO_URL / REDIS_URL / S3_* when set), fills an empty
store with generated demo data (or MovieLens 100k), trains both models unless versions trained on the same data
are stored, and serves the REST API and the web console. Ctrl-C stops it.

Options:
  --movielens DIR    import MovieLens 100k from DIR (u.item, u.data) instead of generating data
  --users N          generated users (default 1000)
  --movies N         generated movies (default 1700)
  --interactions N   generated watched records (default 100000)
  --seed N           random seed of the generator (default 42)
  --reset            start over: delete the store's data and every stored model version first
  -h, --help         show this help

Ports (change them with these variables): GATEWAY_PORT 8080, RECSVC_PORT 50051, RECSVC_METRICS_PORT 9464,
TRAINER_PORT 50052, TRAINER_METRICS_PORT 9465. Model versions are kept in DATA_DIR (default .data) between runs.
`;

export interface DemoFlags {
  movielens?: string;
  users: number;
  movies: number;
  interactions: number;
  seed: number;
  reset: boolean;
  help: boolean;
}

/** A mistake the demo reports in one line (no stack trace) before exiting with `exitCode`. */
export class DemoError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'DemoError';
  }
}

/** The data tools' whole-number flag rule (parseCount), as the demo's one-line error with exit code 2. */
const count = (text: string, flag: string): number => {
  try {
    return parseCount(text, flag, 0);
  } catch (err) {
    if (err instanceof UsageError) throw new DemoError(err.message, 2);
    throw err;
  }
};

/** Parses the demo's flags; a DemoError (exit code 2) names the bad flag. */
export function parseDemoFlags(argv: readonly string[]): DemoFlags {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        movielens: { type: 'string' },
        users: { type: 'string', default: '1000' },
        movies: { type: 'string', default: '1700' },
        interactions: { type: 'string', default: '100000' },
        seed: { type: 'string', default: '42' },
        reset: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new DemoError(`${(err as Error).message} (npm start -- --help lists the options)`, 2);
  }
  return {
    movielens: values.movielens,
    users: count(values.users, '--users'),
    movies: count(values.movies, '--movies'),
    interactions: count(values.interactions, '--interactions'),
    seed: count(values.seed, '--seed'),
    reset: values.reset,
    help: values.help,
  };
}

/** A port the demo listens on, with the variable that changes it. */
export interface Listener {
  readonly variable: string;
  readonly what: string;
  readonly host: string;
  readonly port: number;
}

/** The message for a port already in use: which port, what wanted it, and the variable to change it (with `suggestion`). */
export function portInUseMessage(listener: Listener, suggestion: number): string {
  return (
    `port ${listener.port} on ${listener.host} (${listener.what}) is already in use: stop the program using it, ` +
    `or choose another port with ${listener.variable}, e.g. ${listener.variable}=${suggestion} npm start`
  );
}

/**
 * A port to suggest instead of the listener's taken one: the first above it (wrapping below 1024 back to 1024) that
 * is free now and not in `reserved` (the demo's other ports, and suggestions already made), so that following the
 * advice works; the next port up when none of 100 tries is free.
 */
export async function suggestPort(listener: Listener, reserved: ReadonlySet<number>): Promise<number> {
  const next = (port: number) => (port >= 65535 ? 1024 : port + 1);
  let candidate = next(listener.port);
  for (let tries = 0; tries < 100; tries++, candidate = next(candidate)) {
    if (!reserved.has(candidate) && (await portIsFree({ ...listener, port: candidate }))) return candidate;
  }
  return next(listener.port);
}

/** The messages for these taken listeners, each with a different suggestion that none of `all` uses. */
async function portsInUseMessage(taken: readonly Listener[], all: readonly Listener[]): Promise<string> {
  const reserved = new Set(all.map((l) => l.port));
  const lines: string[] = [];
  for (const listener of taken) {
    const suggestion = await suggestPort(listener, reserved);
    reserved.add(suggestion);
    lines.push(portInUseMessage(listener, suggestion));
  }
  return lines.join('\n');
}

/** True for the errors Node.js (EADDRINUSE) and grpc-js ("No address added ...") give when a port is taken. */
export function isAddressInUse(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === 'EADDRINUSE' || (typeof e?.message === 'string' && /EADDRINUSE|address already in use|No address added/i.test(e.message));
}

/** True when host:port can be bound now (it is bound briefly); port 0 (any free port) always can. */
export async function portIsFree(listener: Listener): Promise<boolean> {
  if (listener.port === 0) return true;
  return new Promise<boolean>((resolve, reject) => {
    const server = createServer();
    server.once('error', (err) => (isAddressInUse(err) ? resolve(false) : reject(err)));
    server.listen({ host: listener.host, port: listener.port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Checks every listener before anything starts; one DemoError (exit code 2) names every taken port at once. */
export async function assertPortsFree(listeners: readonly Listener[]): Promise<void> {
  const taken: Listener[] = [];
  for (const listener of listeners) if (!(await portIsFree(listener))) taken.push(listener);
  if (taken.length > 0) throw new DemoError(await portsInUseMessage(taken, listeners), 2);
}

/**
 * Runs `start` (which opens `listeners`), turning "address in use" into a DemoError naming the port (the error's
 * port, or the listener whose port its message names, else the first); its suggestion avoids every port of `all`.
 */
export async function listening<T>(listeners: readonly Listener[], start: () => Promise<T>, all: readonly Listener[] = listeners): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (!isAddressInUse(err)) throw err;
    const { port, message } = err as { port?: unknown; message?: string };
    const listener =
      listeners.find((l) => l.port === port) ?? listeners.find((l) => message?.includes(`:${l.port}`)) ?? listeners[0];
    throw new DemoError(await portsInUseMessage([listener], all), 2);
  }
}

/**
 * Why each model type's active version must not be kept (retrain), or nothing when it was trained on the data the
 * store holds now (lib/src/models/fingerprint.ts: same catalogue and interaction counts). No active version is a
 * reason too.
 */
export async function staleModels(registry: ModelRegistry, store: Store): Promise<Map<ModelTypeName, string>> {
  const stale = new Map<ModelTypeName, string>();
  for (const modelType of MODEL_TYPES) {
    const version = await registry.activeVersion(modelType);
    if (!version) {
      stale.set(modelType, 'no version yet');
      continue;
    }
    let why: string | null;
    try {
      const artifact = await registry.load(modelType, version);
      why = await dataDifference(store, artifact.manifest.data, artifact.idMaps[ARTIFACT_ID_MAPS.items] ?? []);
    } catch (err) {
      why = `it cannot be read (${(err as Error).message})`;
    }
    if (why) stale.set(modelType, `version ${version}: ${why}`);
  }
  return stale;
}
