/**
 * Simulated users against a running gateway: each session asks for recommendations (the experiment assigns the
 * model) and gives feedback on the first few movies according to the planted tastes of the synthetic world that
 * generate-data made, so the experiment report shows a real, explainable difference between the models.
 *
 *   npm run simulate -- --gateway http://127.0.0.1:8080 --sessions 500 [--users 1000 --movies 1700 --interactions 100000 --seed 42]
 *
 * The world flags must match those given to generate-data (they rebuild the same planted tastes).
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { createSyntheticWorld, movieIndexOf, Rng, userIdOf, type WorldParams } from '../lib/src/data/synthetic.js';

export interface SimulationOptions {
  gateway: string;
  world: WorldParams;
  sessions: number;
  /** Items of each list the simulated user judges (the first ones, as people scan a list top-down). */
  judged: number;
  /** Chance that the user gives feedback on a judged item at all. */
  feedbackRate: number;
  concurrency: number;
  seed: number;
}

export interface SimulationSummary {
  sessions: number;
  feedback: number;
  likes: number;
  byModel: Record<string, { sessions: number; feedback: number; likes: number }>;
  failures: number;
}

interface RecommendationBody {
  session_id: string;
  model_type: string;
  items: { movie_id: string }[];
}

export async function simulateTraffic(options: SimulationOptions, onProgress?: (done: number) => void): Promise<SimulationSummary> {
  const world = createSyntheticWorld(options.world);
  const users = world.params.users;
  const summary: SimulationSummary = { sessions: 0, feedback: 0, likes: 0, byModel: {}, failures: 0 };
  let next = 0;
  const runOne = async (index: number) => {
    const rng = new Rng(options.seed, index);
    const u = rng.int(users);
    const response = await fetch(`${options.gateway}/recommendations/${userIdOf(u)}?k=10`);
    if (!response.ok) {
      summary.failures++;
      return;
    }
    const body = (await response.json()) as RecommendationBody;
    const model = (summary.byModel[body.model_type] ??= { sessions: 0, feedback: 0, likes: 0 });
    summary.sessions++;
    model.sessions++;
    for (const item of body.items.slice(0, options.judged)) {
      if (rng.next() >= options.feedbackRate) continue;
      const m = movieIndexOf(item.movie_id);
      if (m < 0 || m >= world.params.movies) continue;
      const liked = world.wouldLike(u, m, rng);
      const feedback = await fetch(`${options.gateway}/feedback/${body.session_id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ movie_id: item.movie_id, liked }),
      });
      if (!feedback.ok) {
        summary.failures++;
        continue;
      }
      summary.feedback++;
      model.feedback++;
      if (liked) {
        summary.likes++;
        model.likes++;
      }
    }
  };
  const worker = async () => {
    while (next < options.sessions) {
      const index = next++;
      await runOne(index);
      onProgress?.(summary.sessions + summary.failures);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  return summary;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      gateway: { type: 'string', default: 'http://127.0.0.1:8080' },
      sessions: { type: 'string', default: '500' },
      judged: { type: 'string', default: '3' },
      'feedback-rate': { type: 'string', default: '0.9' },
      concurrency: { type: 'string', default: '4' },
      users: { type: 'string', default: '1000' },
      movies: { type: 'string', default: '1700' },
      interactions: { type: 'string', default: '100000' },
      seed: { type: 'string', default: '42' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('usage: simulate-traffic --gateway URL --sessions N [--judged 3 --feedback-rate 0.9 --concurrency 4] [--users --movies --interactions --seed as given to generate-data]');
    return;
  }
  const int = (name: keyof typeof values, min: number) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < min) {
      console.error(`simulate-traffic: --${String(name)} must be an integer >= ${min}`);
      process.exit(2);
    }
    return n;
  };
  const feedbackRate = Number(values['feedback-rate']);
  if (!(feedbackRate > 0 && feedbackRate <= 1)) {
    console.error('simulate-traffic: --feedback-rate must be in (0, 1]');
    process.exit(2);
  }
  const options: SimulationOptions = {
    gateway: values.gateway!.replace(/\/$/, ''),
    world: { seed: int('seed', 0), users: int('users', 1), movies: int('movies', 1), interactions: int('interactions', 1) },
    sessions: int('sessions', 1),
    judged: int('judged', 1),
    feedbackRate,
    concurrency: int('concurrency', 1),
    seed: int('seed', 0) + 1,
  };
  const started = Date.now();
  const summary = await simulateTraffic(options, (done) => {
    if (done % 25 === 0) process.stderr.write(`\r${done}/${options.sessions} sessions`);
  });
  process.stderr.write('\n');
  console.log(`${summary.sessions} sessions, ${summary.feedback} feedback, ${summary.likes} likes, ${summary.failures} failures in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const [model, s] of Object.entries(summary.byModel)) {
    console.log(`  ${model}: ${s.sessions} sessions, like rate ${s.feedback ? ((100 * s.likes) / s.feedback).toFixed(1) : '0'}%`);
  }
  const report = await (await fetch(`${options.gateway}/experiments/report?k=3`)).json();
  console.log(JSON.stringify(report, null, 2));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
