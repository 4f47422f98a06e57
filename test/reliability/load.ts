/**
 * Sustained load with a known truth: ingest clients send order events with
 * integer values (so sums compare exactly), re-send some events inside later
 * batches and retry some whole batches, while query clients read totals.
 */
import type { Client } from './client.js';
import { sleep } from './services.js';

export interface Org {
  name: string;
  id: string;
  key: string;
  /** Confirmed by a 200: event id -> value. */
  truth: Map<string, number>;
  /** The largest totals any query answered during the run. */
  maxSeen: { count: number; sum: number };
}

const CHANNELS = ['web', 'pos', 'app'];
const MARKETS = ['de', 'fr', 'us'];

export interface OrderEvent {
  id: string;
  type: 'order.created';
  occurredAt: string;
  value: number;
  attributes: { channel: string; market: string };
}

export function order(id: string, rand: () => number): OrderEvent {
  return {
    id,
    type: 'order.created',
    occurredAt: new Date(Date.now() - Math.floor(rand() * 50 * 60_000)).toISOString(),
    value: 1 + Math.floor(rand() * 100),
    attributes: { channel: CHANNELS[Math.floor(rand() * 3)]!, market: MARKETS[Math.floor(rand() * 3)]! },
  };
}

/** A small seeded generator (mulberry32), so a failing run can be replayed with --seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function sendBatch(client: Client, org: Org, events: OrderEvent[]): Promise<void> {
  const answer = await client.send('ingest', '/api/v1/events', { key: org.key, json: { events } });
  if (answer.status !== 200) throw new Error(`ingest answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const body = answer.body as { rejected: unknown[] };
  if (body.rejected.length > 0) throw new Error(`valid events rejected: ${JSON.stringify(body.rejected)}`);
  for (const event of events) org.truth.set(event.id, event.value);
}

export async function ingestWorker(client: Client, org: Org, worker: number, until: () => boolean, rand: () => number): Promise<number> {
  let seq = 0;
  let sent = 0;
  const history: OrderEvent[] = [];
  while (!until()) {
    const batch: OrderEvent[] = [];
    for (let i = 0; i < 20; i += 1) {
      // One in ten events is an earlier one again: a webhook delivered twice.
      if (history.length > 0 && rand() < 0.1) batch.push(history[Math.floor(rand() * history.length)]!);
      else batch.push(order(`${org.name}-w${worker}-${seq++}`, rand));
    }
    await sendBatch(client, org, batch);
    // One in ten batches is retried whole, as a client would after a lost answer.
    if (rand() < 0.1) await sendBatch(client, org, batch);
    sent += batch.length;
    history.push(...batch.slice(0, 5));
  }
  return sent;
}

export function totalsQuery(metric = 'rel_orders', extra: Record<string, unknown> = {}) {
  return {
    from: new Date(Date.now() - 2 * 86_400_000).toISOString(),
    to: new Date(Date.now() + 3_600_000).toISOString(),
    intervalMs: 86_400_000,
    queries: [{ refId: 'A', metric, aggregation: 'sum', format: 'timeseries', ...extra }],
  };
}

/** Sum of every number series in one refId's frames; undefined when that query failed. */
export function frameTotal(body: unknown, refId = 'A'): number | undefined {
  const result = (body as { results?: Record<string, { status: number; frames?: Array<{ data: { values: unknown[][] } }> }> }).results?.[refId];
  if (!result || result.status !== 200) return undefined;
  let total = 0;
  for (const frame of result.frames ?? []) {
    for (const column of frame.data.values.slice(1)) for (const v of column) if (typeof v === 'number') total += v;
  }
  return total;
}

export async function queryTotals(client: Client, org: Org): Promise<{ count?: number; sum?: number }> {
  const body = {
    ...totalsQuery(),
    queries: [totalsQuery('rel_orders').queries[0], { ...totalsQuery('rel_order_value').queries[0], refId: 'B' }],
  };
  const answer = await client.send('query', '/api/v1/query', { key: org.key, json: body });
  if (answer.status !== 200) throw new Error(`query answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return { count: frameTotal(answer.body, 'A'), sum: frameTotal(answer.body, 'B') };
}

export async function queryWorker(client: Client, orgs: Org[], until: () => boolean, rand: () => number): Promise<void> {
  while (!until()) {
    const org = orgs[Math.floor(rand() * orgs.length)]!;
    const { count, sum } = await queryTotals(client, org);
    if (count !== undefined) org.maxSeen.count = Math.max(org.maxSeen.count, count);
    if (sum !== undefined) org.maxSeen.sum = Math.max(org.maxSeen.sum, sum);
    await sleep(20);
  }
}

/**
 * The hanging source's queries: each must fail on its own timeout while the events query beside it answers.
 * An events query that meets PostgreSQL down gets its own 503 (retry): its time goes to `unavailableAt`, judged
 * against the PostgreSQL fault windows after the run.
 */
export async function hangingSourceWorker(client: Client, org: Org, until: () => boolean, failures: string[], unavailableAt: number[]): Promise<number> {
  let checked = 0;
  while (!until()) {
    const body = { ...totalsQuery(), queries: [totalsQuery().queries[0], { ...totalsQuery('rel_hanging').queries[0], refId: 'H' }] };
    const answer = await client.send('query-with-hanging-source', '/api/v1/query', { key: org.key, json: body });
    const results = (answer.body as { results?: Record<string, { status: number; error?: string }> }).results;
    if (answer.status !== 200 || !results) failures.push(`hanging-source request answered ${answer.status}`);
    else {
      if (results.A?.status === 503 && /unavailable/.test(results.A.error ?? '')) unavailableAt.push(Date.now());
      else if (results.A?.status !== 200) failures.push(`events query beside the hanging source failed: ${JSON.stringify(results.A)}`);
      if (results.H?.status !== 504 || !/did not answer within 300 ms/.test(results.H?.error ?? '')) failures.push(`hanging source did not time out on its own: ${JSON.stringify(results.H)}`);
    }
    checked += 1;
    await sleep(250);
  }
  return checked;
}
