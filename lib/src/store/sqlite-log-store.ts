import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { FALLBACK_ARM, FORCED_ARM, type ExperimentArmTotals, type ExperimentWindow, type FeedbackDoc, type LikeRateBucket, type RecommendationLogDoc, type TimeBucketName } from './types.js';

/**
 * The `forced` column: 0 the experiment, 1 a forced list (reported apart), 2 a fallback list (counted nowhere: the
 * report's queries ask for 0 or 1).
 */
const armClass = (arm: string | undefined): number => (arm === FORCED_ARM ? 1 : arm === FALLBACK_ARM ? 2 : 0);
import { MODEL_TYPES } from '../domain.js';

/**
 * The embedded store's recommendation_logs and feedback, in SQLite (node:sqlite, built into Node 24) instead of the
 * heap: a file under DATA_DIR for the demo and the services (they survive a restart), or an in-memory database for
 * unit tests (`location` ":memory:"). Memory stays bounded as they grow: SQLite keeps a page cache of `cacheKiB` and
 * answers every query from indexes (session id, (session, movie), user id, served time), never from a scan held in
 * the heap. Documents are kept as JSON beside the indexed columns; dates are stored as epoch milliseconds.
 *
 * Durability: WAL journal with synchronous=NORMAL, so a committed write survives a killed process (the journal is
 * replayed on the next open), and a transaction cut short by a crash is rolled back as a whole (never half-written);
 * the last commits before a power loss may be lost.
 */
export class SqliteLogStore {
  private readonly db: DatabaseSync;
  private readonly sql: Record<string, StatementSync>;
  private closed = false;

  constructor(readonly location: string, cacheKiB = 8_192) {
    this.db = new DatabaseSync(location);
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 5000;
      PRAGMA cache_size = -${Math.max(256, Math.floor(cacheKiB))};
      CREATE TABLE IF NOT EXISTS recommendation_logs (
        session_id TEXT PRIMARY KEY,
        model_type TEXT NOT NULL,
        forced INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        doc TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS recommendation_logs_report ON recommendation_logs (forced, created_at, model_type);
      CREATE TABLE IF NOT EXISTS feedback (
        session_id TEXT NOT NULL,
        movie_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        liked INTEGER NOT NULL,
        model_type TEXT,
        forced INTEGER NOT NULL,
        rank INTEGER,
        session_created_at INTEGER,
        updated_at INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (session_id, movie_id)
      );
      CREATE INDEX IF NOT EXISTS feedback_user ON feedback (user_id);
      CREATE INDEX IF NOT EXISTS feedback_report ON feedback (forced, session_created_at);
    `);
    this.sql = {
      insertLog: this.db.prepare(
        'INSERT OR IGNORE INTO recommendation_logs (session_id, model_type, forced, created_at, doc) VALUES (?, ?, ?, ?, ?)',
      ),
      getLog: this.db.prepare('SELECT doc FROM recommendation_logs WHERE session_id = ?'),
      getFeedback: this.db.prepare('SELECT doc FROM feedback WHERE session_id = ? AND movie_id = ?'),
      insertFeedback: this.db.prepare(
        `INSERT OR IGNORE INTO feedback (session_id, movie_id, user_id, liked, model_type, forced, rank, session_created_at, updated_at, doc)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      replaceFeedback: this.db.prepare(
        `INSERT INTO feedback (session_id, movie_id, user_id, liked, model_type, forced, rank, session_created_at, updated_at, doc)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (session_id, movie_id) DO UPDATE SET user_id = excluded.user_id, liked = excluded.liked,
           model_type = excluded.model_type, forced = excluded.forced, rank = excluded.rank,
           session_created_at = excluded.session_created_at, updated_at = excluded.updated_at, doc = excluded.doc`,
      ),
      userVerdicts: this.db.prepare('SELECT movie_id, liked, updated_at FROM feedback WHERE user_id = ? ORDER BY rowid'),
      countLogs: this.db.prepare('SELECT COUNT(*) AS n FROM recommendation_logs'),
      countFeedback: this.db.prepare('SELECT COUNT(*) AS n FROM feedback'),
      scanLogs: this.db.prepare('SELECT rowid AS id, doc FROM recommendation_logs WHERE rowid > ? ORDER BY rowid LIMIT ?'),
      scanFeedback: this.db.prepare('SELECT rowid AS id, doc FROM feedback WHERE rowid > ? ORDER BY rowid LIMIT ?'),
      sessions: this.db.prepare(
        `SELECT model_type, COUNT(*) AS n FROM recommendation_logs
         WHERE forced = ? AND created_at >= ? AND created_at < ? GROUP BY model_type`,
      ),
      feedbackTotals: this.db.prepare(
        `SELECT model_type, COUNT(*) AS sessions_with_feedback, SUM(feedback) AS feedback, SUM(likes) AS likes,
                SUM(likes_top_k) AS likes_top_k, SUM(CASE WHEN likes > 0 THEN 1 ELSE 0 END) AS sessions_with_likes,
                SUM(CASE WHEN likes > 0 THEN CAST(likes_top_k AS REAL) / likes ELSE 0 END) AS recall_sum
         FROM (SELECT session_id, MIN(model_type) AS model_type, COUNT(*) AS feedback, SUM(liked) AS likes,
                      SUM(CASE WHEN liked = 1 AND rank <= ? THEN 1 ELSE 0 END) AS likes_top_k
               FROM feedback
               WHERE model_type IS NOT NULL AND forced = ? AND session_created_at >= ? AND session_created_at < ?
               GROUP BY session_id)
         GROUP BY model_type`,
      ),
      likeRate: this.db.prepare(
        `SELECT model_type, (session_created_at / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS start, COUNT(*) AS feedback, SUM(liked) AS likes FROM feedback
         WHERE model_type IS NOT NULL AND forced = 0 AND session_created_at >= ? AND session_created_at < ?
         GROUP BY model_type, start ORDER BY start, model_type`,
      ),
    };
  }

  /** Inserts served lists in one transaction; a session id already stored is skipped. */
  insertLogs(docs: readonly RecommendationLogDoc[]): void {
    this.transaction(() => {
      for (const d of docs) {
        const createdAt = new Date(d.createdAt);
        this.sql.insertLog.run(d.sessionId, d.modelType, armClass(d.arm), createdAt.getTime(), JSON.stringify({ ...d, createdAt }));
      }
    });
  }

  getLog(sessionId: string): RecommendationLogDoc | null {
    const row = this.sql.getLog.get(sessionId) as { doc: string } | undefined;
    return row ? reviveLog(row.doc) : null;
  }

  getFeedback(sessionId: string, movieId: string): FeedbackDoc | null {
    const row = this.sql.getFeedback.get(sessionId, movieId) as { doc: string } | undefined;
    return row ? reviveFeedback(row.doc) : null;
  }

  /** Writes a feedback document: `replace` overwrites the (session, movie) document, otherwise an existing one is kept. */
  putFeedback(doc: FeedbackDoc, replace: boolean): void {
    const statement = replace ? this.sql.replaceFeedback : this.sql.insertFeedback;
    const at = (d: Date | undefined) => (d === undefined ? null : new Date(d).getTime());
    statement.run(
      doc.sessionId,
      doc.movieId,
      doc.userId,
      doc.liked ? 1 : 0,
      doc.modelType ?? null,
      armClass(doc.arm),
      doc.rank ?? null,
      at(doc.sessionCreatedAt),
      at(doc.updatedAt ?? doc.createdAt) ?? 0,
      JSON.stringify(doc),
    );
  }

  insertFeedback(docs: readonly FeedbackDoc[]): void {
    this.transaction(() => {
      for (const d of docs) this.putFeedback(d, false);
    });
  }

  /** The user's feedback verdicts (feedback and event decisions) in the order they were first written. */
  userVerdicts(userId: string): { movieId: string; liked: boolean; at: number }[] {
    return (this.sql.userVerdicts.all(userId) as { movie_id: string; liked: number; updated_at: number }[]).map((r) => ({
      movieId: r.movie_id,
      liked: r.liked === 1,
      at: r.updated_at,
    }));
  }

  count(collection: 'recommendation_logs' | 'feedback'): number {
    const statement = collection === 'feedback' ? this.sql.countFeedback : this.sql.countLogs;
    return Number((statement.get() as { n: number }).n);
  }

  /** Batches of whole documents in insertion order (keyset pages, so no statement stays open between batches). */
  *scan(collection: 'recommendation_logs' | 'feedback', batchSize: number): Generator<RecommendationLogDoc[] | FeedbackDoc[]> {
    const statement = collection === 'feedback' ? this.sql.scanFeedback : this.sql.scanLogs;
    const revive = collection === 'feedback' ? reviveFeedback : reviveLog;
    let after = 0;
    for (;;) {
      const rows = statement.all(after, batchSize) as { id: number; doc: string }[];
      if (rows.length === 0) return;
      after = rows[rows.length - 1]!.id;
      yield rows.map((r) => revive(r.doc)) as RecommendationLogDoc[] | FeedbackDoc[];
      if (rows.length < batchSize) return;
    }
  }

  experimentTotals(window: ExperimentWindow): ExperimentArmTotals[] {
    const forced = window.forced ? 1 : 0;
    const [since, until] = range(window);
    const sessions = new Map<string, number>();
    for (const r of this.sql.sessions.all(forced, since, until) as { model_type: string; n: number }[]) sessions.set(r.model_type, r.n);
    type Row = { model_type: string; sessions_with_feedback: number; feedback: number; likes: number; likes_top_k: number; sessions_with_likes: number; recall_sum: number };
    const byModel = new Map<string, Row>();
    for (const r of this.sql.feedbackTotals.all(window.k, forced, since, until) as Row[]) byModel.set(r.model_type, r);
    return MODEL_TYPES.map((modelType) => {
      const r = byModel.get(modelType);
      return {
        modelType,
        sessions: sessions.get(modelType) ?? 0,
        sessionsWithFeedback: r?.sessions_with_feedback ?? 0,
        feedbackCount: r?.feedback ?? 0,
        likes: r?.likes ?? 0,
        precisionSum: (r?.likes_top_k ?? 0) / window.k,
        recallSum: r?.recall_sum ?? 0,
        sessionsWithLikes: r?.sessions_with_likes ?? 0,
      };
    });
  }

  likeRateSeries(window: Omit<ExperimentWindow, 'k' | 'forced'>, bucket: TimeBucketName): LikeRateBucket[] {
    const ms = bucket === 'hour' ? 3_600_000 : 86_400_000;
    const [since, until] = range(window);
    return (this.sql.likeRate.all(ms, ms, since, until) as { model_type: string; start: number; feedback: number; likes: number }[]).map((r) => ({
      modelType: r.model_type as LikeRateBucket['modelType'],
      start: new Date(r.start),
      feedbackCount: r.feedback,
      likes: r.likes,
    }));
  }

  clear(): void {
    this.db.exec('DELETE FROM recommendation_logs; DELETE FROM feedback;');
  }

  /** Runs `work` in one transaction (all or nothing). */
  transaction(work: () => void): void {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      work();
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

/** [since, until) in epoch ms; open ends become the widest range. */
function range(window: { since?: Date; until?: Date }): [number, number] {
  return [window.since ? window.since.getTime() : Number.MIN_SAFE_INTEGER, window.until ? window.until.getTime() : Number.MAX_SAFE_INTEGER];
}

function reviveLog(json: string): RecommendationLogDoc {
  const doc = JSON.parse(json) as RecommendationLogDoc;
  doc.createdAt = new Date(doc.createdAt);
  return doc;
}

function reviveFeedback(json: string): FeedbackDoc {
  const doc = JSON.parse(json) as FeedbackDoc;
  for (const key of ['createdAt', 'updatedAt', 'sessionCreatedAt'] as const) if (doc[key] !== undefined) doc[key] = new Date(doc[key]);
  return doc;
}
