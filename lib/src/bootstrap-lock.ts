import { MongoClient, MongoServerError, type Collection } from 'mongodb';

/**
 * The first-start data load's marker: one document (`_id: 'data-load'`) in the `bootstrap` collection, created
 * with a unique-key insert so that of several bootstraps started together exactly one loads the data; the others
 * wait until it is `done`. The loader renews `heartbeatAt` while it works; a load whose heartbeat is older than
 * `staleMs` (the loader died) or that `failed` may be taken over by one waiter (the winner of a unique-key insert
 * of a claim document), which then reloads from scratch (`reset`).
 */
export type DataLoadState = 'loading' | 'done' | 'failed';

export interface DataLoadMarker {
  state: DataLoadState;
  owner: string;
  heartbeatAt: Date;
  /** What was loaded (`demo`, `movielens`, or `existing` when the store already held movies). */
  source?: string;
  detail?: string;
  /** Takeovers so far (MongoDB marker only). */
  generation?: number;
}

/** What `acquire` found: `acquired` (load the data; `reset` = clear a half-written earlier load first), `done`, or `held` (wait). */
export type AcquireResult = { outcome: 'acquired'; reset: boolean } | { outcome: 'done'; marker: DataLoadMarker } | { outcome: 'held'; marker: DataLoadMarker };

export interface DataLoadLock {
  acquire(owner: string): Promise<AcquireResult>;
  /** Renews the owner's heartbeat; false if the owner lost the lock (taken over as stale). */
  heartbeat(owner: string): Promise<boolean>;
  /** Marks the load done (for everyone). */
  complete(owner: string, source: string, detail?: string): Promise<void>;
  /** Marks the load failed, so the next bootstrap takes it over at once. */
  fail(owner: string, detail: string): Promise<void>;
  read(): Promise<DataLoadMarker | null>;
  close(): Promise<void>;
}

export const DATA_LOAD_MARKER_ID = 'data-load';
export const BOOTSTRAP_COLLECTION = 'bootstrap';

export interface LockClock {
  now(): Date;
}
const systemClock: LockClock = { now: () => new Date() };

function takeoverReason(marker: DataLoadMarker, now: Date, staleMs: number): boolean {
  return marker.state === 'failed' || (marker.state === 'loading' && now.getTime() - marker.heartbeatAt.getTime() > staleMs);
}

/** In-process marker (the embedded store and unit tests): the same rules as the MongoDB one. */
export class MemoryDataLoadLock implements DataLoadLock {
  private marker: DataLoadMarker | null = null;

  constructor(
    private readonly staleMs: number,
    private readonly clock: LockClock = systemClock,
  ) {}

  async acquire(owner: string): Promise<AcquireResult> {
    const now = this.clock.now();
    if (!this.marker) {
      this.marker = { state: 'loading', owner, heartbeatAt: now };
      return { outcome: 'acquired', reset: false };
    }
    if (this.marker.state === 'done') return { outcome: 'done', marker: { ...this.marker } };
    if (takeoverReason(this.marker, now, this.staleMs)) {
      this.marker = { state: 'loading', owner, heartbeatAt: now };
      return { outcome: 'acquired', reset: true };
    }
    return { outcome: 'held', marker: { ...this.marker } };
  }

  async heartbeat(owner: string): Promise<boolean> {
    if (this.marker?.owner !== owner || this.marker.state !== 'loading') return false;
    this.marker.heartbeatAt = this.clock.now();
    return true;
  }

  async complete(owner: string, source: string, detail?: string): Promise<void> {
    this.marker = { state: 'done', owner, heartbeatAt: this.clock.now(), source, detail };
  }

  async fail(owner: string, detail: string): Promise<void> {
    if (this.marker?.owner === owner) this.marker = { ...this.marker, state: 'failed', detail, heartbeatAt: this.clock.now() };
  }

  async read(): Promise<DataLoadMarker | null> {
    return this.marker ? { ...this.marker } : null;
  }

  async close(): Promise<void> {}
}

interface MarkerDoc extends DataLoadMarker {
  _id: string;
}

/** The marker in MongoDB (collection `bootstrap` of MONGO_DB). */
export class MongoDataLoadLock implements DataLoadLock {
  private constructor(
    private readonly client: MongoClient,
    private readonly markers: Collection<MarkerDoc>,
    private readonly staleMs: number,
    private readonly clock: LockClock,
  ) {}

  static async connect(url: string, dbName: string, staleMs: number, clock: LockClock = systemClock): Promise<MongoDataLoadLock> {
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000, connectTimeoutMS: 5_000, retryWrites: false });
    await client.connect();
    return new MongoDataLoadLock(client, client.db(dbName).collection<MarkerDoc>(BOOTSTRAP_COLLECTION), staleMs, clock);
  }

  async acquire(owner: string): Promise<AcquireResult> {
    const now = this.clock.now();
    try {
      await this.markers.insertOne({ _id: DATA_LOAD_MARKER_ID, state: 'loading', owner, heartbeatAt: now });
      return { outcome: 'acquired', reset: false };
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === 11000)) throw err;
    }
    const marker = await this.read();
    if (!marker) return this.acquire(owner); // deleted in between by hand: try again
    if (marker.state === 'done') return { outcome: 'done', marker };
    if (!takeoverReason(marker, now, this.staleMs)) return { outcome: 'held', marker };
    // Take over through a unique-key insert of a claim for the next generation: of several waiters exactly one wins,
    // on any MongoDB-compatible server (a conditional update is not atomic on every one, e.g. FerretDB 1.x). A claim
    // whose winner died before it could update the marker goes stale too, and the generation after it is claimed.
    const claims = this.markers as unknown as Collection<{ _id: string; owner: string; at: Date }>;
    for (let generation = (marker.generation ?? 0) + 1; ; generation++) {
      try {
        await claims.insertOne({ _id: `${DATA_LOAD_MARKER_ID}-claim-${generation}`, owner, at: now });
      } catch (err) {
        if (!(err instanceof MongoServerError && err.code === 11000)) throw err;
        const claim = await claims.findOne({ _id: `${DATA_LOAD_MARKER_ID}-claim-${generation}` });
        if (claim && now.getTime() - claim.at.getTime() <= this.staleMs) return { outcome: 'held', marker };
        continue;
      }
      await this.markers.updateOne(
        { _id: DATA_LOAD_MARKER_ID },
        { $set: { state: 'loading', owner, heartbeatAt: now, generation }, $unset: { detail: '', source: '' } },
      );
      return { outcome: 'acquired', reset: true };
    }
  }

  async heartbeat(owner: string): Promise<boolean> {
    const result = await this.markers.updateOne({ _id: DATA_LOAD_MARKER_ID, owner, state: 'loading' }, { $set: { heartbeatAt: this.clock.now() } });
    return result.matchedCount === 1;
  }

  async complete(owner: string, source: string, detail?: string): Promise<void> {
    await this.markers.updateOne(
      { _id: DATA_LOAD_MARKER_ID },
      { $set: { state: 'done', owner, heartbeatAt: this.clock.now(), source, ...(detail ? { detail } : {}) } },
      { upsert: true },
    );
  }

  async fail(owner: string, detail: string): Promise<void> {
    await this.markers.updateOne({ _id: DATA_LOAD_MARKER_ID, owner }, { $set: { state: 'failed', detail, heartbeatAt: this.clock.now() } });
  }

  async read(): Promise<DataLoadMarker | null> {
    const doc = await this.markers.findOne({ _id: DATA_LOAD_MARKER_ID });
    if (!doc) return null;
    const { _id, ...marker } = doc;
    void _id;
    return marker;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
