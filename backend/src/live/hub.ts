import type { Logger } from '../logger.js';
import type { Pool } from '../db/pool.js';
import { readLiveCounters, type LiveMetric } from './counters.js';

/** What one stream receives each tick: its own metrics' values, or an error. */
export interface LiveSubscriber {
  metrics: LiveMetric[];
  send(time: number, values: Record<string, number | null>): void;
  fail(): void;
}

interface Group {
  organizationId: string;
  intervalMs: number;
  subscribers: Set<LiveSubscriber>;
  timer: NodeJS.Timeout;
  running: boolean;
  /** The last values read, keyed by metric, for a stream that joins between ticks. */
  last: { time: number; values: Map<string, number | null> } | undefined;
}

/**
 * Live counters are read once per organization and interval, whatever the
 * number of streams watching them (issue 23): each tick reads the union of
 * the group's metrics in one query and fans the values out, so twenty
 * streams of one organization cost what one does.
 */
export class LiveHub {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    private readonly read = readLiveCounters,
  ) {}

  /** Starts delivering to `subscriber`; the returned function stops it (and the group's timer with its last stream). */
  subscribe(organizationId: string, intervalMs: number, subscriber: LiveSubscriber): () => void {
    const key = `${organizationId}:${intervalMs}`;
    let group = this.groups.get(key);
    if (!group) {
      const created: Group = { organizationId, intervalMs, subscribers: new Set(), timer: setInterval(() => void this.tick(created), intervalMs), running: false, last: undefined };
      created.timer.unref();
      this.groups.set(key, (group = created));
    }
    group.subscribers.add(subscriber);
    const joined = group;
    const last = group.last;
    if (last && subscriber.metrics.every((metric) => last.values.has(metric.key))) deliver(subscriber, last.time, last.values);
    // On the next turn, so streams opened together share the first read.
    else setImmediate(() => void this.tick(joined));
    return () => {
      joined.subscribers.delete(subscriber);
      if (joined.subscribers.size === 0 && this.groups.get(key) === joined) {
        clearInterval(joined.timer);
        this.groups.delete(key);
      }
    };
  }

  /** Number of counter groups being read (one per organization and interval). */
  get groupCount(): number {
    return this.groups.size;
  }

  close(): void {
    for (const group of this.groups.values()) clearInterval(group.timer);
    this.groups.clear();
  }

  private async tick(group: Group): Promise<void> {
    if (group.running || group.subscribers.size === 0) return;
    group.running = true;
    try {
      const metrics = new Map<string, LiveMetric>();
      for (const subscriber of group.subscribers) for (const metric of subscriber.metrics) metrics.set(metric.key, metric);
      const values = await this.read(this.pool, group.organizationId, [...metrics.values()]);
      const time = Date.now();
      const last = (group.last = { time, values: new Map(Object.entries(values)) });
      let uncovered = false;
      for (const subscriber of group.subscribers) {
        // A stream that joined during the read, asking for other metrics, gets them from the next read.
        if (subscriber.metrics.every((metric) => last.values.has(metric.key))) deliver(subscriber, time, last.values);
        else uncovered = true;
      }
      group.running = false;
      if (uncovered) void this.tick(group);
    } catch (error) {
      this.logger.warn({ err: error }, 'live counters failed');
      for (const subscriber of group.subscribers) subscriber.fail();
    } finally {
      group.running = false;
    }
  }
}

function deliver(subscriber: LiveSubscriber, time: number, values: Map<string, number | null>): void {
  // Null prototype: metric keys come from the catalog, but nothing keyed by a name should reach Object.prototype.
  const own: Record<string, number | null> = Object.create(null);
  for (const metric of subscriber.metrics) {
    const value = values.get(metric.key);
    own[metric.key] = value === undefined ? 0 : value;
  }
  subscriber.send(time, own);
}
