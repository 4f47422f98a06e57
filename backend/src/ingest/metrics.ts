import { Counter, Histogram, type Registry } from 'prom-client';
import { isBuiltInType } from './schema.js';

export type Outcome = 'accepted' | 'duplicate' | 'rejected';

/**
 * Ingestion's own Prometheus series. Labels stay bounded: built-in event types
 * by name, every custom type as "custom", never an organization.
 */
export class IngestMetrics {
  private readonly events: Counter<'type' | 'outcome'>;
  private readonly batchDuration: Histogram<'result'>;

  constructor(registry: Registry) {
    this.events = new Counter({
      name: 'metricshub_ingest_events_total',
      help: 'Events received by ingestion, by type (built-in name or "custom") and outcome',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    });
    this.batchDuration = new Histogram({
      name: 'metricshub_ingest_batch_duration_seconds',
      help: 'Time to validate and store one batch of events, by result (ok or error)',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  }

  /** Adds a batch's outcomes, one increment per label set rather than per event. */
  count(tally: OutcomeTally): void {
    for (const [key, n] of tally.counts) {
      const [type, outcome] = key.split(' ') as [string, Outcome];
      this.events.inc({ type, outcome }, n);
    }
  }

  /** Starts timing a batch; call the result with "ok" or "error". */
  timeBatch(): (result: 'ok' | 'error') => void {
    const stop = this.batchDuration.startTimer();
    return (result) => stop({ result });
  }
}

/** Outcomes of one batch by (type label, outcome); bounded like the labels. */
export class OutcomeTally {
  readonly counts = new Map<string, number>();

  add(type: unknown, outcome: Outcome): void {
    const label = typeof type === 'string' && isBuiltInType(type) ? type : 'custom';
    const key = `${label} ${outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}
