/**
 * The reference of bench:serve: a bare fastify server with one GET route returning a JSON body the size of a
 * 10-item recommendation response, no validation, no logging, no upstream. What this machine's Node HTTP stack
 * serves at best; the gateway's throughput is reported as a ratio of it.
 *
 *   node dist/bench/bare-server.js [--port 8099] [--host 127.0.0.1] [--body response.json]
 *
 * --body: a JSON file whose content is served (bench/serve.ts passes a real gateway response); without it, a
 * synthesised 10-item recommendation response. The route is GET /recommendations/:user_id (the path parameter is
 * echoed into user_id, so the body is built per request like the gateway's).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '8099' },
    host: { type: 'string', default: '127.0.0.1' },
    body: { type: 'string' },
  },
});

/** A response shaped like GET /recommendations/{user_id} with 10 items. */
function sampleBody(): Record<string, unknown> {
  const genres = [['Comedy', 'Romance'], ['Drama'], ['Action', 'Sci-Fi', 'Thriller'], ['Horror'], ['Animation', "Children's"]];
  return {
    session_id: '3b241101-e2bb-4255-8caf-4136c566a962',
    user_id: 'u1',
    model_type: 'als',
    model_version: '20261124T000000Z-3f9a1c',
    source: 'cache',
    arm: 'forced',
    items: Array.from({ length: 10 }, (_, i) => ({
      movie_id: `m${1000 + i * 37}`,
      title: `The Movie Number ${1000 + i * 37} (${1990 + i})`,
      genres: genres[i % genres.length],
      score: 1.2345678 - i * 0.0123,
      rank: i + 1,
    })),
  };
}

const body: Record<string, unknown> = args.body ? (JSON.parse(readFileSync(args.body, 'utf8')) as Record<string, unknown>) : sampleBody();

const app = Fastify({ logger: false });
app.get<{ Params: { user_id: string } }>('/recommendations/:user_id', async (request) => ({ ...body, user_id: request.params.user_id }));

await app.listen({ host: args.host, port: Number(args.port) });
process.stdout.write(`bare-server listening on http://${args.host}:${Number(args.port)} (${JSON.stringify(body).length} bytes per body)\n`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
