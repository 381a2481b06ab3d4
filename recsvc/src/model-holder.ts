import { MODEL_TYPES, type ModelTypeName } from '../../lib/src/domain.js';
import type { Cache } from '../../lib/src/cache/types.js';
import type { Logger } from '../../lib/src/logger.js';
import {
  CorruptModelError,
  MODEL_ACTIVATED_CHANNEL,
  type ModelActivatedMessage,
  type ModelRegistry,
} from '../../lib/src/models/registry.js';
import type { ModelArtifact } from '../../lib/src/models/artifact.js';
import { ServingModel } from './serving-model.js';

/**
 * Checks a verified artifact against the data before it is served: null to serve it, else why not (recsvc checks
 * the catalogue fingerprint, lib/src/models/fingerprint.ts).
 */
export type ArtifactCheck = (artifact: ModelArtifact) => Promise<string | null>;

export interface ModelHolderEvents {
  onLoaded?: (model: ServingModel) => void;
  onRefused?: (modelType: ModelTypeName, version: string, error: unknown) => void;
}

/**
 * Holds the active version of each model and swaps it without a restart. New versions are announced on Redis
 * pub/sub; polling the ACTIVE pointer is the fallback when a message is missed. A version is loaded and verified
 * in the background, then swapped in with one assignment: requests in flight keep the instance they read.
 * A corrupt or unreadable version is refused and the current one kept; so is a version the check refuses (trained on
 * another catalogue than the store holds), which is re-checked at every poll.
 */
export class ModelHolder {
  private readonly models = new Map<ModelTypeName, ServingModel>();
  private readonly refused = new Map<ModelTypeName, string>();
  /** Versions refused by the check (trained on other data), re-checked at every poll: the data may still arrive. */
  private readonly mismatched = new Map<ModelTypeName, { artifact: ModelArtifact; reason: string }>();
  private readonly loading = new Map<ModelTypeName, Promise<void>>();
  private pollTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;
  private stopped = false;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly cache: Cache,
    private readonly log: Logger,
    private readonly pollMs: number,
    private readonly events: ModelHolderEvents = {},
    private readonly check?: ArtifactCheck,
  ) {}

  /** Why the active version of a model type is not served, when the check refused it (for the demo and logs). */
  refusal(modelType: ModelTypeName): { version: string; reason: string } | undefined {
    const entry = this.mismatched.get(modelType);
    return entry && { version: entry.artifact.manifest.version, reason: entry.reason };
  }

  current(modelType: ModelTypeName): ServingModel | undefined {
    return this.models.get(modelType);
  }

  /** Loads what is active now (logging a wait line for a model type without any), then listens and polls. */
  async start(): Promise<void> {
    this.unsubscribe = await this.cache.subscribe(MODEL_ACTIVATED_CHANNEL, (message) => this.onMessage(message));
    await Promise.all(MODEL_TYPES.map((modelType) => this.checkActive(modelType)));
    for (const modelType of MODEL_TYPES) {
      if (!this.models.has(modelType)) {
        this.log.info({ modelType }, 'no active model version yet: waiting for the trainer (serving fallbacks meanwhile)');
      }
    }
    this.pollTimer = setInterval(() => {
      for (const modelType of MODEL_TYPES) void this.checkActive(modelType);
    }, this.pollMs);
    this.pollTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    await this.unsubscribe?.();
    await Promise.allSettled(this.loading.values());
  }

  private onMessage(raw: string): void {
    let message: ModelActivatedMessage;
    try {
      message = JSON.parse(raw) as ModelActivatedMessage;
    } catch {
      this.log.warn({ raw: raw.slice(0, 200) }, 'ignoring a malformed model activation message');
      return;
    }
    if (!(MODEL_TYPES as readonly string[]).includes(message.modelType)) return;
    // The pointer is the truth: re-read it rather than trusting the message's version.
    void this.checkActive(message.modelType);
  }

  /** Reads the ACTIVE pointer and loads it if it differs from the current version; one load per type at a time. */
  checkActive(modelType: ModelTypeName): Promise<void> {
    const running = this.loading.get(modelType);
    if (running) return running;
    const task = this.loadActive(modelType).finally(() => this.loading.delete(modelType));
    this.loading.set(modelType, task);
    return task;
  }

  private async loadActive(modelType: ModelTypeName): Promise<void> {
    if (this.stopped) return;
    let version: string | null;
    try {
      version = await this.registry.activeVersion(modelType);
    } catch (err) {
      this.log.warn({ err, modelType }, 'could not read the active model pointer; keeping the current model');
      return;
    }
    if (!version || version === this.models.get(modelType)?.version || version === this.refused.get(modelType)) return;
    const started = Date.now();
    try {
      const earlier = this.mismatched.get(modelType);
      const artifact = earlier?.artifact.manifest.version === version ? earlier.artifact : await this.registry.load(modelType, version);
      const reason = this.check ? await this.check(artifact) : null;
      if (reason) {
        // Not served (the current model, if any, is kept); re-checked at every poll, as the data may still arrive.
        this.mismatched.set(modelType, { artifact, reason });
        if (earlier?.artifact.manifest.version !== version) {
          this.log.error({ modelType, version, reason, kept: this.models.get(modelType)?.version ?? null }, 'model version refused: trained on other data');
          this.events.onRefused?.(modelType, version, new Error(reason));
        }
        return;
      }
      this.mismatched.delete(modelType);
      const model = ServingModel.fromArtifact(artifact);
      this.models.set(modelType, model);
      this.refused.delete(modelType);
      this.log.info({ modelType, version, items: model.itemCount, ms: Date.now() - started }, 'model version loaded and swapped in');
      this.events.onLoaded?.(model);
    } catch (err) {
      // A corrupt version stays refused; other failures (storage unreachable) are retried at the next poll.
      if (err instanceof CorruptModelError) this.refused.set(modelType, version);
      this.log.error({ err, modelType, version, kept: this.models.get(modelType)?.version ?? null }, 'model version refused');
      this.events.onRefused?.(modelType, version, err);
    }
  }
}
