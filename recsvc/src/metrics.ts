import { Counter, Gauge, type Registry } from 'prom-client';
import type { ModelTypeName } from '../../lib/src/domain.js';
import type { RecommendationSourceName } from '../../lib/src/store/types.js';

/** The recommendation service's own metrics (labels are small fixed sets). */
export class RecsvcMetrics {
  readonly served: Counter<'model_type' | 'source'>;
  readonly cacheLookups: Counter<'result'>;
  readonly cacheErrors: Counter<'operation'>;
  readonly activeModel: Gauge<'model_type' | 'version'>;
  readonly modelLoads: Counter<'model_type' | 'result'>;
  readonly logBuffer: Gauge;
  readonly logDropped: Counter;
  readonly logWriteFailures: Counter;
  readonly feedback: Counter<'model_type' | 'liked'>;
  readonly eventsIngested: Counter<'mode' | 'result'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.served = new Counter({
      name: 'recommendations_served_total',
      help: 'Recommendation lists served, by model and source (cache, model, fold_in, genres_top, global_top)',
      labelNames: ['model_type', 'source'],
      registers,
    });
    this.cacheLookups = new Counter({
      name: 'recommendation_cache_lookups_total',
      help: 'Cache lookups by result (hit, miss); hit ratio = hit / (hit + miss)',
      labelNames: ['result'],
      registers,
    });
    this.cacheErrors = new Counter({
      name: 'recommendation_cache_errors_total',
      help: 'Cache operations that failed (Redis unreachable): requests were served without the cache',
      labelNames: ['operation'],
      registers,
    });
    this.activeModel = new Gauge({
      name: 'recommendation_active_model_info',
      help: 'The model version being served (value 1)',
      labelNames: ['model_type', 'version'],
      registers,
    });
    this.modelLoads = new Counter({
      name: 'recommendation_model_loads_total',
      help: 'Model versions loaded or refused',
      labelNames: ['model_type', 'result'],
      registers,
    });
    this.logBuffer = new Gauge({ name: 'recommendation_log_buffer_size', help: 'Served lists waiting to be written to MongoDB', registers });
    this.logDropped = new Counter({ name: 'recommendation_log_dropped_total', help: 'Served lists dropped because the buffer was full', registers });
    this.logWriteFailures = new Counter({ name: 'recommendation_log_write_failures_total', help: 'Failed batch writes (retried)', registers });
    this.eventsIngested = new Counter({
      name: 'events_ingested_total',
      help: 'Interaction events of IngestEvents / POST /events by mode (kafka, direct) and result (accepted, duplicate, refused)',
      labelNames: ['mode', 'result'],
      registers,
    });
    this.feedback = new Counter({ name: 'feedback_total', help: 'Feedback received, by model and like/dislike', labelNames: ['model_type', 'liked'], registers });
  }

  private readonly versions = new Map<ModelTypeName, string>();

  modelSwapped(modelType: ModelTypeName, version: string): void {
    this.versions.set(modelType, version);
    this.activeModel.reset();
    for (const [type, v] of this.versions) this.activeModel.set({ model_type: type, version: v }, 1);
  }

  servedList(modelType: ModelTypeName, source: RecommendationSourceName): void {
    this.served.inc({ model_type: modelType, source });
  }
}
