/**
 * Container healthcheck: `healthcheck grpc HOST:PORT` asks grpc.health.v1, `healthcheck http URL` expects a 2xx.
 * Exits 0 when healthy, 1 otherwise.
 */
import { checkHealth } from '../lib/src/grpc/client.js';

const [kind, target] = process.argv.slice(2);
let healthy = false;
try {
  if (kind === 'grpc' && target) healthy = await checkHealth(target, 2_000);
  else if (kind === 'http' && target) healthy = (await fetch(target, { signal: AbortSignal.timeout(2_000) })).ok;
  else console.error('usage: healthcheck grpc HOST:PORT | healthcheck http URL');
} catch {
  healthy = false;
}
process.exit(healthy ? 0 : 1);
