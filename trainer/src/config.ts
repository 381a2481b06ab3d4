import { z } from 'zod';
import { CronExpressionParser } from 'cron-parser';
import { checkStorageEnv, env, grpcServerEnvShape, loadConfig, metricsEnvShape, storageEnvShape } from '../../lib/src/config.js';
import { apiKeysEnvShape } from '../../lib/src/api-keys.js';

/** Offline metrics the promotion gate may compare (keys of the run's and the manifest's metrics). */
export const PROMOTION_METRICS = ['ndcgAt10', 'precisionAt10', 'recallAt10', 'mapAt10'] as const;
export type PromotionMetric = (typeof PROMOTION_METRICS)[number];

/** A 5-field cron expression (checked by the same parser BullMQ uses), or `off` to remove the schedule. */
const cron = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .superRefine((value, ctx) => {
      if (value === 'off') return;
      if (value.trim().split(/\s+/).length !== 5) {
        ctx.addIssue({ code: 'custom', message: `'${value}' must be a 5-field cron expression (minute hour day month weekday) or 'off'` });
        return;
      }
      try {
        CronExpressionParser.parse(value, { tz: 'UTC' });
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `'${value}' is not a valid cron expression: ${(err as Error).message}` });
      }
    });

const timeZone = z
  .string()
  .default('UTC')
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as UTC or Europe/Berlin');

const fraction = (fallback: number) => z.coerce.number().min(0).max(1).default(fallback);
const nonNegative = (fallback: number) => z.coerce.number().min(0).default(fallback);
const nonNegativeInt = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

/** Every variable of the trainer (API and worker); trainer/README.md lists them with their meaning. */
const schema = z
  .object({
    ...storageEnvShape,
    // Training and refresh jobs read MongoDB off the serving path: a longer budget than the serving default (1,500),
    // so that a slow catalogue read (1,000 ids at a time) on a loaded server does not fail a run. A call made for a
    // gRPC request is still bounded by that request's deadline (lib/src/store/mongo-store.ts).
    MONGO_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
    ...grpcServerEnvShape,
    ...metricsEnvShape,
    ...apiKeysEnvShape,
    TRAINER_HOST: env.host(),
    TRAINER_PORT: env.port(50052),
    /** Prometheus /metrics over HTTP on METRICS_HOST (API and worker processes each serve one); 0 picks a free port. */
    TRAINER_METRICS_PORT: env.port(9465),
    LOG_LEVEL: env.logLevel(),
    SHUTDOWN_GRACE_MS: env.positiveInt(10_000),

    // Queues and worker
    QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 characters of [A-Za-z0-9_-]').default('recsys'),
    JOB_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(3),
    JOB_BACKOFF_MS: env.positiveInt(30_000),
    JOB_KEEP_FINISHED: env.positiveInt(500),
    JOB_KEEP_FINISHED_SECONDS: env.positiveInt(7 * 86_400),
    WORKER_SHUTDOWN_GRACE_MS: env.positiveInt(60_000),
    /** Stalled jobs: a worker's job lock lasts this long and is renewed at half of it (BullMQ lockDuration). */
    JOB_LOCK_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
    /** How often workers and the API look for jobs whose lock expired (BullMQ stalledInterval). */
    JOB_STALLED_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
    /** A job whose worker died is put back this many times, then failed (BullMQ maxStalledCount). */
    JOB_MAX_STALLED_COUNT: z.coerce.number().int().min(0).max(100).default(1),
    /** How often the worker checks that Redis still holds its marker key (data loss: schedules re-registered). */
    REDIS_LOSS_CHECK_MS: z.coerce.number().int().min(100).max(3_600_000).default(15_000),
    WORKER_REFRESH_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
    TRAIN_CRON: cron('0 0 * * *'),
    REFRESH_CRON: cron('30 0 * * *'),
    SCHEDULE_TZ: timeZone,

    // Training data
    SCAN_BATCH_SIZE: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
    TRAIN_MAX_REJECTED_FRACTION: fraction(0.01),
    TRAIN_THREADS: z.coerce.number().int().min(0).max(256).default(0),

    // Evaluation and publication
    EVAL_TEST_FRACTION: z.coerce.number().gt(0).lt(1).default(0.2),
    EVAL_SEED: nonNegativeInt(42),
    /** The gate's holdout: `random` (a random share of each user's items) or `temporal` (each user's latest). */
    EVAL_SPLIT: z.enum(['random', 'temporal']).default('random'),
    REFIT_ON_ALL_DATA: env.boolean(true),
    PROMOTION_METRIC: z.enum(PROMOTION_METRICS).default('ndcgAt10'),
    PROMOTION_MARGIN: nonNegative(0.01),
    MODEL_KEEP_VERSIONS: z.coerce.number().int().min(1).default(5),
    REFRESH_AFTER_PROMOTION: env.boolean(true),

    // Recommendation cache refresh
    RECOMMENDATION_TTL_SECONDS: env.positiveInt(86_400),
    REFRESH_CHUNK_USERS: z.coerce.number().int().min(1).max(100_000).default(2_000),

    // Default hyper-parameters (StartTraining may override each)
    ALS_FACTORS: z.coerce.number().int().min(1).max(1024).default(64),
    ALS_REGULARIZATION: nonNegative(20),
    ALS_ALPHA: nonNegative(0.5),
    ALS_ITERATIONS: z.coerce.number().int().min(1).max(1000).default(15),
    ALS_CG_STEPS: z.coerce.number().int().min(1).max(64).default(3),
    ALS_SEED: nonNegativeInt(42),
    WARP_COMPONENTS: z.coerce.number().int().min(1).max(1024).default(64),
    WARP_EPOCHS: z.coerce.number().int().min(1).max(1000).default(25),
    WARP_LEARNING_RATE: z.coerce.number().gt(0).max(10).default(0.03),
    WARP_MAX_SAMPLED: z.coerce.number().int().min(1).max(10_000).default(30),
    WARP_ITEM_ALPHA: nonNegative(0),
    WARP_USER_ALPHA: nonNegative(0),
    WARP_SEED: nonNegativeInt(42),

    // Self-tuning (trainer/src/tuning.ts): initial values of every model's settings, changed later through the API.
    TUNE_ENABLED: env.boolean(true),
    TUNE_BUDGET_FITS: z.coerce.number().min(0).max(100).default(4),
    TUNE_MAX_TRIALS: z.coerce.number().int().min(1).max(1000).default(16),
    TUNE_VALIDATION_FRACTION: z.coerce.number().min(0.05).max(0.5).default(0.2),
    TUNE_MIN_IMPROVEMENT: z.coerce.number().min(0).max(0.1).default(0.002),
  })
  .superRefine(checkStorageEnv);

export type TrainerConfig = z.output<typeof schema>;

/** The trainer's configuration (API and worker), validated once at start-up. */
export function loadTrainerConfig(source: NodeJS.ProcessEnv = process.env): TrainerConfig {
  return loadConfig(schema, source);
}
