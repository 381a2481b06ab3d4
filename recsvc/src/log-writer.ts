import type { Logger } from '../../lib/src/logger.js';
import type { RecommendationLogDoc, Store } from '../../lib/src/store/types.js';

export interface LogWriterSettings {
  /** Largest batch written at once. */
  batchSize: number;
  /** Flush at least this often. */
  flushIntervalMs: number;
  /** Bound of the buffer: past it the oldest entries are dropped (and counted). */
  maxBuffered: number;
  /** Backoff between retries while MongoDB is unreachable (doubles up to 10x). */
  retryDelayMs: number;
}

export interface LogWriterObserver {
  onBuffered?: (size: number) => void;
  onDropped?: (count: number) => void;
  onWriteFailed?: (error: unknown) => void;
}

/**
 * Writes served lists to recommendation_logs off the request path: appended to a bounded in-memory buffer,
 * written in batches, retried while MongoDB is unreachable, flushed on shutdown. Writes are idempotent
 * (duplicate session ids are skipped), so a batch that failed half-way is simply written again.
 */
export class RecommendationLogWriter {
  private buffer: RecommendationLogDoc[] = [];
  /** Sessions still in the buffer or being written, for feedback that arrives before the write. */
  private readonly pending = new Map<string, RecommendationLogDoc>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private failures = 0;
  private closed = false;
  dropped = 0;

  constructor(
    private readonly store: Store,
    private readonly settings: LogWriterSettings,
    private readonly log: Logger,
    private readonly observer: LogWriterObserver = {},
  ) {}

  start(): void {
    this.schedule(this.settings.flushIntervalMs);
  }

  get size(): number {
    return this.buffer.length;
  }

  /** Buffers a served list; never waits for MongoDB. */
  append(doc: RecommendationLogDoc): void {
    if (this.closed) throw new Error('the recommendation log writer is closed');
    this.buffer.push(doc);
    this.pending.set(doc.sessionId, doc);
    if (this.buffer.length > this.settings.maxBuffered) {
      const overflow = this.buffer.splice(0, this.buffer.length - this.settings.maxBuffered);
      for (const d of overflow) this.pending.delete(d.sessionId);
      this.dropped += overflow.length;
      this.observer.onDropped?.(overflow.length);
      this.log.error({ dropped: overflow.length, maxBuffered: this.settings.maxBuffered }, 'recommendation log buffer full: dropped the oldest entries');
    }
    this.observer.onBuffered?.(this.buffer.length);
    if (this.buffer.length >= this.settings.batchSize && !this.writing && this.failures === 0) this.schedule(0);
  }

  /** A session not yet written to MongoDB. */
  pendingSession(sessionId: string): RecommendationLogDoc | undefined {
    return this.pending.get(sessionId);
  }

  /** Writes everything buffered; resolves when the buffer is empty or the attempt failed. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.settings.batchSize);
      this.writing = this.store.insertRecommendationLogs(batch).then(
        () => {
          this.buffer.splice(0, batch.length);
          for (const d of batch) this.pending.delete(d.sessionId);
          this.failures = 0;
          this.observer.onBuffered?.(this.buffer.length);
        },
        (err: unknown) => {
          this.failures++;
          this.observer.onWriteFailed?.(err);
          this.log.warn({ err: String(err), buffered: this.buffer.length, attempt: this.failures }, 'recommendation log write failed; will retry');
          throw err;
        },
      );
      try {
        await this.writing;
      } finally {
        this.writing = undefined;
      }
    }
  }

  /** Stops the timer and writes what is left, retrying until `deadlineMs` has passed. */
  async close(deadlineMs: number): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const giveUpAt = Date.now() + deadlineMs;
    while (this.buffer.length > 0 && Date.now() < giveUpAt) {
      try {
        await this.flush();
      } catch {
        await new Promise((r) => setTimeout(r, Math.min(this.settings.retryDelayMs, Math.max(0, giveUpAt - Date.now()))));
      }
    }
    if (this.buffer.length > 0) {
      this.dropped += this.buffer.length;
      this.observer.onDropped?.(this.buffer.length);
      this.log.error({ lost: this.buffer.length }, 'recommendation logs not written before shutdown');
    }
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.flush().then(
        () => this.schedule(this.settings.flushIntervalMs),
        () => this.schedule(Math.min(this.settings.retryDelayMs * 2 ** Math.min(this.failures - 1, 3), this.settings.retryDelayMs * 10)),
      );
    }, delayMs);
    this.timer.unref();
  }
}
