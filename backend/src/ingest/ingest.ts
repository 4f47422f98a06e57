import type { CacheVersions } from '../cache/versions.js';
import { withTransactionEndingIn, type Pool } from '../db/pool.js';
import type { WalPosition } from '../db/wal.js';
import { NO_DISTINCT_ATTRIBUTES, type DistinctAttributes } from './distinct-attributes.js';
import { OutcomeTally, type IngestMetrics } from './metrics.js';
import { ensurePartitions, forgetPartitions, isMissingPartition } from './partitions.js';
import type { PerEventLimits } from './limits.js';
import { parseEvent, type ValidEvent } from './schema.js';
import { storeBatch, type StoreResult } from './store.js';

export interface IngestOptions {
  /** Largest batch accepted (default 5,000). */
  maxEvents?: number;
  /** How far in the future an occurredAt may be (default 300 s). */
  maxFutureSkewSeconds?: number;
  /** Events older than this are rejected (default 400 days). */
  retentionDays?: number;
  /** Clock for the time window checks (epoch ms). */
  now?: () => number;
  /** Bumped once after a batch stored something, so cached answers are recomputed. */
  cacheVersions?: CacheVersions;
  metrics?: IngestMetrics;
  /** Attributes whose distinct values catalog metrics count (distinctAttributesOf(catalog)); none by default. */
  distinct?: DistinctAttributes;
  /** Per-event limits (default: DEFAULT_EVENT_LIMITS). */
  perEvent?: PerEventLimits;
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: Array<{ index: number; error: string }>;
}

export class BatchTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`batch has ${size} events; the limit is ${limit} per request (split it into smaller batches)`);
    this.name = 'BatchTooLargeError';
  }
}

/** Stores the batch; `position` is the WAL position once it committed (for read replicas). */
async function storeWithPartitions(pool: Pool, organizationId: string, events: ValidEvent[], now: number, distinct: DistinctAttributes): Promise<{ result: StoreResult; position: WalPosition }> {
  const times = events.map((event) => event.occurredAtMs);
  await ensurePartitions(pool, times, now);
  try {
    return await withTransactionEndingIn(pool, (client) => storeBatch(client, organizationId, events, distinct));
  } catch (error) {
    // Retention may have dropped a partition this process still believed in; recreate and retry once.
    if (!isMissingPartition(error)) throw error;
    forgetPartitions(pool);
    await ensurePartitions(pool, times, now);
    return withTransactionEndingIn(pool, (client) => storeBatch(client, organizationId, events, distinct));
  }
}

/**
 * Validates and stores a batch of events for one organization: each event is
 * checked alone (a bad one is rejected with its index and reason, the others
 * go on), and all valid events are written, raw and into the rollups, in one
 * transaction. Sending the same events again changes nothing.
 */
export async function ingestEvents(pool: Pool, organizationId: string, events: readonly unknown[], options: IngestOptions = {}): Promise<IngestResult> {
  const maxEvents = options.maxEvents ?? 5_000;
  if (events.length > maxEvents) throw new BatchTooLargeError(events.length, maxEvents);
  const { metrics } = options;
  const stopTimer = metrics?.timeBatch();
  const now = options.now?.() ?? Date.now();
  const distinct = options.distinct ?? NO_DISTINCT_ATTRIBUTES;
  const limits = { now, maxFutureSkewSeconds: options.maxFutureSkewSeconds ?? 300, retentionDays: options.retentionDays ?? 400, distinct, perEvent: options.perEvent };

  const tally = new OutcomeTally();
  const rejected: IngestResult['rejected'] = [];
  const valid: ValidEvent[] = [];
  const ids = new Set<string>();
  let duplicatesInBatch = 0;
  events.forEach((input, index) => {
    const parsed = parseEvent(input, limits);
    if (!parsed.ok) {
      rejected.push({ index, error: parsed.error });
      tally.add((input as { type?: unknown } | null)?.type, 'rejected');
    } else if (ids.has(parsed.event.id)) {
      duplicatesInBatch += 1;
      tally.add(parsed.event.type, 'duplicate');
    } else {
      ids.add(parsed.event.id);
      valid.push(parsed.event);
    }
  });

  let result: StoreResult = { stored: [], duplicates: 0 };
  let position: WalPosition | undefined;
  try {
    if (valid.length > 0) ({ result, position } = await storeWithPartitions(pool, organizationId, valid, now, distinct));
  } catch (error) {
    stopTimer?.('error');
    throw error;
  }
  stopTimer?.('ok');
  if (result.stored.length > 0) await options.cacheVersions?.bump(organizationId, position);

  if (metrics) {
    const storedIds = new Set(result.stored.map((event) => event.id));
    for (const event of valid) tally.add(event.type, storedIds.has(event.id) ? 'accepted' : 'duplicate');
    metrics.count(tally);
  }
  return { accepted: result.stored.length, duplicates: result.duplicates + duplicatesInBatch, rejected };
}
