import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../lib/src/logger.js';
import type { RecommendationLogDoc } from '../../lib/src/store/types.js';

/** One spool file: JSON lines of served lists, deleted once every one of them is stored. */
export interface SpoolSegment {
  readonly path: string;
  /** Lists of this file not yet stored. */
  outstanding: number;
  /** No longer appended to (deleted when `outstanding` reaches 0). */
  sealed: boolean;
  /** Holds lists dropped from the memory buffer: kept on disk for the next start, never deleted by this process. */
  stranded: boolean;
}

/** A list read back from the spool of a stopped or killed process. */
export interface RecoveredLog {
  doc: RecommendationLogDoc;
  segment: SpoolSegment;
}

/** Owner folders of spools open in this process (tests run several services in one process). */
const liveOwners = new Set<string>();
const OWNER_PATTERN = /^(.+)_(\d+)_([0-9a-f-]{36})$/;
/** Each writer touches `{owner}/alive` this often; a folder of another host is taken over once it is stale. */
export const SPOOL_HEARTBEAT_MS = 5_000;
export const SPOOL_STALE_MS = 60_000;

/**
 * The recommendation-log spool (LOG_SPOOL_DIR): every served list is appended to a local file with a synchronous
 * write before the response, so it survives a killed process (SIGKILL, OOM kill; not a machine crash: the page cache
 * is not fsynced per list), and the file is deleted once the lists it holds are stored in the database.
 *
 * Layout: `{dir}/{host}_{pid}_{uuid}/{n}.jsonl`, one owner folder per running writer. At start a writer adopts the
 * owner folders of writers that no longer run (renamed into its own folder: atomic, so two starting processes never
 * adopt the same one) and reads their lists back; a last line cut short by a crash is skipped with a warning.
 * A writer no longer runs when, on the same host (container), its pid is gone; on another host (replicas sharing a
 * volume), when its `alive` file, touched every SPOOL_HEARTBEAT_MS, is older than SPOOL_STALE_MS.
 */
export class LogSpool {
  private current: SpoolSegment;
  private fd: number;
  private next = 0;
  private closed = false;
  private readonly segments = new Set<SpoolSegment>();
  private readonly heartbeat: NodeJS.Timeout;

  private constructor(
    readonly ownerDir: string,
    private readonly log: Logger,
    readonly recovered: RecoveredLog[],
  ) {
    ({ segment: this.current, fd: this.fd } = this.openSegment());
    const alive = join(ownerDir, 'alive');
    this.heartbeat = setInterval(() => {
      try {
        const now = new Date();
        utimesSync(alive, now, now);
      } catch {
        // adopted by another writer after all (this process was stalled for SPOOL_STALE_MS): nothing to touch
      }
    }, SPOOL_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Opens a spool in `dir` (created if missing) and reads back the lists of stopped writers. */
  static open(dir: string, log: Logger, now = Date.now()): LogSpool {
    mkdirSync(dir, { recursive: true });
    const host = hostname().replace(/[^A-Za-z0-9.-]/g, '-');
    const ownerDir = join(dir, `${host}_${process.pid}_${randomUUID()}`);
    mkdirSync(ownerDir);
    writeFileSync(join(ownerDir, 'alive'), '');
    liveOwners.add(ownerDir);
    for (const name of readdirSync(dir)) {
      const match = OWNER_PATTERN.exec(name);
      const path = join(dir, name);
      if (!match || path === ownerDir || liveOwners.has(path)) continue;
      if (match[1] === host ? processRuns(Number(match[2])) : heartbeatAge(path, now) < SPOOL_STALE_MS) continue;
      try {
        renameSync(path, join(ownerDir, `adopted-${name}`));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // another process adopted it first
      }
    }
    const recovered: RecoveredLog[] = [];
    const segments: SpoolSegment[] = [];
    for (const file of segmentFiles(ownerDir)) {
      const segment: SpoolSegment = { path: file, outstanding: 0, sealed: true, stranded: false };
      for (const doc of readSegment(file, log)) {
        recovered.push({ doc, segment });
        segment.outstanding++;
      }
      segments.push(segment);
    }
    const spool = new LogSpool(ownerDir, log, recovered);
    for (const segment of segments) {
      spool.segments.add(segment);
      spool.release(segment);
    }
    if (recovered.length > 0) log.warn({ lists: recovered.length, files: segments.length }, 'recommendation log spool: read back lists of a stopped process');
    return spool;
  }

  /** Appends a served list with a synchronous write (survives a killed process). Throws when the disk refuses it. */
  append(doc: RecommendationLogDoc, json = JSON.stringify(doc)): SpoolSegment {
    if (this.closed) throw new Error('the recommendation log spool is closed');
    writeSync(this.fd, `${json}\n`);
    this.current.outstanding++;
    return this.current;
  }

  /** Starts a new file if the current one holds lists, so stored lists' files can be deleted. */
  rotate(): void {
    if (this.closed || this.current.outstanding === 0) return;
    const sealed = this.current;
    closeSync(this.fd);
    ({ segment: this.current, fd: this.fd } = this.openSegment());
    sealed.sealed = true;
    this.release(sealed);
  }

  /** The lists of these segments were stored: files whose lists all are get deleted. */
  stored(segments: readonly (SpoolSegment | undefined)[]): void {
    for (const segment of segments) {
      if (!segment) continue;
      segment.outstanding--;
      this.release(segment);
    }
  }

  /** A list of this segment left the memory buffer unstored: the file stays for the next start. */
  strand(segment: SpoolSegment | undefined): void {
    if (segment) segment.stranded = true;
  }

  /** Lists in the spool not yet stored (of this process and adopted). */
  get outstanding(): number {
    let n = 0;
    for (const s of this.segments) n += s.outstanding;
    return n;
  }

  /**
   * Closes the current file (fsynced). With nothing outstanding the owner folder is removed; otherwise it stays and
   * the next writer started on this spool folder reads the lists back.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.current.sealed = true;
    this.release(this.current);
    liveOwners.delete(this.ownerDir);
    if (this.outstanding === 0 && ![...this.segments].some((s) => s.stranded)) rmSync(this.ownerDir, { recursive: true, force: true });
  }

  private openSegment(): { segment: SpoolSegment; fd: number } {
    const path = join(this.ownerDir, `${String(this.next++).padStart(8, '0')}.jsonl`);
    const segment: SpoolSegment = { path, outstanding: 0, sealed: false, stranded: false };
    this.segments.add(segment);
    return { segment, fd: openSync(path, 'a') };
  }

  private release(segment: SpoolSegment): void {
    if (!segment.sealed || segment.stranded || segment.outstanding > 0 || !this.segments.has(segment)) return;
    this.segments.delete(segment);
    try {
      unlinkSync(segment.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err: String(err), path: segment.path }, 'recommendation log spool: could not delete a stored file');
    }
  }
}

/** Whether a process with this pid runs (EPERM: it runs under another user). This process's own pid counts as not
 * running for folders of earlier containers that also ran as pid 1: live owners of this process are in liveOwners. */
function processRuns(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Milliseconds since the owner folder's writer last touched its `alive` file (Infinity without one). */
function heartbeatAge(ownerDir: string, now: number): number {
  try {
    return now - statSync(join(ownerDir, 'alive')).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** The .jsonl files under a folder (adopted owner folders included), oldest first. */
function segmentFiles(dir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...segmentFiles(path));
    else if (name.endsWith('.jsonl')) files.push(path);
  }
  return files;
}

/** The lists of one spool file; a line cut short by a crash (or otherwise unreadable) is skipped with a warning. */
export function readSegment(path: string, log: Logger): RecommendationLogDoc[] {
  const docs: RecommendationLogDoc[] = [];
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line === '') return;
    try {
      const doc = JSON.parse(line) as RecommendationLogDoc;
      if (typeof doc?.sessionId !== 'string' || !Array.isArray(doc.items)) throw new Error('not a recommendation log');
      doc.createdAt = new Date(doc.createdAt);
      docs.push(doc);
    } catch (err) {
      const torn = i === lines.length - 1;
      log.warn({ path, line: i + 1, err: String(err) }, torn ? 'recommendation log spool: skipped a last line cut short by a crash' : 'recommendation log spool: skipped an unreadable line');
    }
  });
  return docs;
}
