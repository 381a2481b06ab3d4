import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Metrics of the event consumer group member (labels are small fixed sets; partitions are few). */
export class ConsumerMetrics {
  readonly consumed: Counter<'result'>;
  readonly deadLetters: Counter<'field'>;
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly batchSeconds: Histogram;
  readonly applyFailures: Counter;
  readonly commitFailures: Counter;
  readonly rebalances: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.consumed = new Counter({
      name: 'events_consumed_total',
      help: 'Event records consumed, by result: applied, duplicate (event id applied before), dead_letter; throughput = rate()',
      labelNames: ['result'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'events_dead_letters_total',
      help: 'Records sent to the dead-letter topic, by the field at fault (value = not decodable)',
      labelNames: ['field'],
      registers,
    });
    this.lag = new Gauge({
      name: 'events_consumer_lag',
      help: 'Records behind the end of each assigned partition (polled every few seconds)',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: 'events_batch_seconds',
      help: 'Time to apply one batch durably and commit its offsets',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.applyFailures = new Counter({ name: 'events_apply_failures_total', help: 'Batches whose writes failed (retried, offsets not committed)', registers });
    this.commitFailures = new Counter({
      name: 'events_commit_failures_total',
      help: 'Offset commits that failed (e.g. during a rebalance): the records are redelivered and applied once',
      registers,
    });
    this.rebalances = new Counter({ name: 'events_consumer_rebalances_total', help: 'Consumer group rebalances seen by this member', registers });
  }
}
