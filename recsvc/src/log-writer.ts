import { detachedFromCall } from '../../lib/src/call-scope.js';
import type { Logger } from '../../lib/src/logger.js';
import type { RecommendationLogDoc, Store } from '../../lib/src/store/types.js';
import { LogSpool, type SpoolSegment } from './log-spool.js';

export interface LogWriterSettings {
  /** Largest batch written at once. */
  batchSize: number;
  /** Flush at least this often. */
  flushIntervalMs: number;
  /** Bound of the memory buffer: past it the oldest entries leave it (kept in the spool if there is one, else lost). */
  maxBuffered: number;
  /** Backoff between retries while MongoDB is unreachable (doubles up to 10x). */
  retryDelayMs: number;
  /** How long close() keeps writing on shutdown before it leaves the rest to the spool (LOG_FLUSH_GRACE_MS). */
  flushGraceMs: number;
  /**
   * Spool folder (LOG_SPOOL_DIR): each served list is appended to a file here before the response and replayed at
   * the next start if it was not stored (recsvc/src/log-spool.ts). Absent: the buffer is memory only.
   */
  spoolDir?: string;
}

export interface LogWriterObserver {
  onBuffered?: (size: number) => void;
  onDropped?: (count: number) => void;
  onWriteFailed?: (error: unknown) => void;
}

interface Entry {
  doc: RecommendationLogDoc;
  /** The spool file holding the list (absent without a spool, or when the spool write failed). */
  segment: SpoolSegment | undefined;
}

/** Stored session ids a writer remembers (~5 MB): feedback mostly comes within minutes of the list. */
export const STORED_SESSIONS_KEPT = 50_000;

/**
 * Writes served lists to recommendation_logs off the request path: appended to the spool file (a synchronous local
 * write) and to a bounded in-memory buffer, written in batches, retried while MongoDB is unreachable, flushed on
 * shutdown within a bounded grace. Writes are idempotent (duplicate session ids are skipped), so a batch that failed
 * half-way, or a spool replayed after a crash, is simply written again.
 *
 * Guarantee with a spool: a list that was served is stored, now or after the next start on the same spool folder,
 * also when the process is killed (SIGKILL) or MongoDB is down or stalled at shutdown.
 */
export class RecommendationLogWriter {
  private buffer: Entry[] = [];
  /** Sessions still in the buffer or being written, for feedback that arrives before the write. */
  private readonly pending = new Map<string, RecommendationLogDoc>();
  /** Ids of the latest STORED_SESSIONS_KEPT sessions this writer stored (oldest first), so feedback need not write them again. */
  private readonly storedSessions = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private failures = 0;
  private closed = false;
  private readonly spool: LogSpool | undefined;
  private spoolFailed = false;
  /** Lists lost for good (left the buffer with no spool file holding them). */
  dropped = 0;
  /** Lists read back from the spool at start (of a stopped or killed process). */
  readonly recovered: number;

  constructor(
    private readonly store: Store,
    private readonly settings: LogWriterSettings,
    private readonly log: Logger,
    private readonly observer: LogWriterObserver = {},
  ) {
    this.spool = settings.spoolDir ? LogSpool.open(settings.spoolDir, log) : undefined;
    const recovered = this.spool?.recovered ?? [];
    for (const { doc, segment } of recovered) this.enqueue({ doc, segment });
    this.recovered = recovered.length;
  }

  start(): void {
    this.schedule(this.recovered > 0 ? 0 : this.settings.flushIntervalMs);
  }

  /** Lists in the memory buffer. */
  get size(): number {
    return this.buffer.length;
  }

  /** Lists in the spool not yet stored (0 without a spool). */
  get spooled(): number {
    return this.spool?.outstanding ?? 0;
  }

  /**
   * Spools (one synchronous local write) and buffers a served list; never waits for MongoDB. `json`: the list's
   * JSON.stringify if the caller has it already (saves serialising it again).
   */
  append(doc: RecommendationLogDoc, json?: string): void {
    if (this.closed) throw new Error('the recommendation log writer is closed');
    let segment: SpoolSegment | undefined;
    if (this.spool) {
      try {
        segment = this.spool.append(doc, json);
        this.spoolFailed = false;
      } catch (err) {
        if (!this.spoolFailed) this.log.error({ err: String(err) }, 'recommendation log spool write failed: lists are buffered in memory only');
        this.spoolFailed = true;
      }
    }
    this.enqueue({ doc, segment });
    if (this.buffer.length >= this.settings.batchSize && !this.writing && this.failures === 0) this.schedule(0);
  }

  /**
   * True if this writer stored the session in recommendation_logs (one of its latest STORED_SESSIONS_KEPT): feedback
   * on it then writes only the feedback. False says nothing (another replica's session, or an older one).
   */
  wasStored(sessionId: string): boolean {
    return this.storedSessions.has(sessionId);
  }

  /** A session not yet written to MongoDB. */
  pendingSession(sessionId: string): RecommendationLogDoc | undefined {
    return this.pending.get(sessionId);
  }

  /** Writes everything buffered; resolves when the buffer is empty or the attempt failed. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    this.spool?.rotate();
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.settings.batchSize);
      this.writing = this.store.insertRecommendationLogs(batch.map((e) => e.doc)).then(
        () => {
          // Entries may have left the buffer meanwhile (overflow): remove exactly the written ones.
          // Overflow only removes from the front and appends go to the end, so what is left of the batch is a prefix.
          const written = new Set(batch);
          let n = 0;
          while (n < this.buffer.length && written.has(this.buffer[n]!)) n++;
          this.buffer.splice(0, n);
          for (const e of batch) {
            if (this.pending.get(e.doc.sessionId) === e.doc) this.pending.delete(e.doc.sessionId);
            this.storedSessions.add(e.doc.sessionId);
          }
          for (const id of this.storedSessions) {
            if (this.storedSessions.size <= STORED_SESSIONS_KEPT) break;
            this.storedSessions.delete(id);
          }
          this.spool?.stored(batch.map((e) => e.segment));
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

  /**
   * Stops the timer and writes what is left for at most `graceMs` (a stalled MongoDB never holds shutdown longer);
   * what is still unwritten then stays in the spool for the next start (without a spool it is lost, and counted).
   */
  async close(graceMs = this.settings.flushGraceMs): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    let expired = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      graceTimer = setTimeout(() => {
        expired = true;
        resolve();
      }, graceMs);
    });
    const drain = (async () => {
      while (this.buffer.length > 0 && !expired) {
        try {
          await this.flush();
        } catch {
          if (!expired) await Promise.race([grace, new Promise((r) => setTimeout(r, this.settings.retryDelayMs))]);
        }
      }
    })();
    await Promise.race([drain, grace]);
    clearTimeout(graceTimer);
    const left = this.buffer.length;
    if (left > 0) {
      const spooled = this.buffer.filter((e) => e.segment).length;
      this.log.error(
        { unwritten: left, spooled, spoolDir: this.settings.spoolDir, graceMs },
        spooled === left
          ? 'recommendation logs not written before shutdown: kept in the spool, written at the next start'
          : 'recommendation logs not written before shutdown: some were not spooled and are lost',
      );
      if (left > spooled) {
        this.dropped += left - spooled;
        this.observer.onDropped?.(left - spooled);
      }
    }
    this.spool?.close();
  }

  private enqueue(entry: Entry): void {
    this.buffer.push(entry);
    this.pending.set(entry.doc.sessionId, entry.doc);
    if (this.buffer.length > this.settings.maxBuffered) {
      const overflow = this.buffer.splice(0, this.buffer.length - this.settings.maxBuffered);
      let lost = 0;
      for (const e of overflow) {
        if (this.pending.get(e.doc.sessionId) === e.doc) this.pending.delete(e.doc.sessionId);
        if (e.segment) this.spool?.strand(e.segment);
        else lost++;
      }
      if (lost > 0) {
        this.dropped += lost;
        this.observer.onDropped?.(lost);
      }
      this.log.error(
        { left: overflow.length, lost, maxBuffered: this.settings.maxBuffered },
        lost > 0 ? 'recommendation log buffer full: dropped the oldest entries' : 'recommendation log buffer full: the oldest entries wait in the spool for the next start',
      );
    }
    this.observer.onBuffered?.(this.buffer.length);
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    // Outside any gRPC call's scope: append() schedules from a request, and a timer (and every flush it chains) would
    // otherwise carry that call's deadline, so after it every write was refused as out of time ("no time was left
    // before the call's deadline"), and the served lists piled up in the buffer (bench:serve, 14,000 after a minute).
    this.timer = detachedFromCall(() =>
      setTimeout(() => {
        this.flush().then(
          () => this.schedule(this.settings.flushIntervalMs),
          () => this.schedule(Math.min(this.settings.retryDelayMs * 2 ** Math.min(this.failures - 1, 3), this.settings.retryDelayMs * 10)),
        );
      }, delayMs),
    );
    this.timer.unref();
  }
}
