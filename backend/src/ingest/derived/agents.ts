import type { PoolClient } from '../../db/pool.js';
import { BUCKET_MS } from '../../rollups/buckets.js';
import type { Contribution } from '../aggregate.js';
import type { ValidEvent } from '../schema.js';
import { DERIVED, emptyDerived, ensureAndLock, ofType, orderedDims, stringAttribute, type Derived } from './types.js';

const HOUR = BUCKET_MS.hour;
/** Longest interval one change closes: older time is not counted (a lost event must not book months at once). */
export const MAX_AVAILABILITY_INTERVAL_MS = 31 * 24 * HOUR;

const ENSURE_ROWS = `
INSERT INTO agent_availability (organization_id, agent_id)
SELECT $1::uuid, id FROM unnest($2::text[]) AS id ORDER BY id
ON CONFLICT DO NOTHING`;

const LOCK_ROWS = `
SELECT agent_id, status, extract(epoch FROM since) * 1000 AS since_ms
FROM agent_availability WHERE organization_id = $1 AND agent_id = ANY($2::text[])
ORDER BY agent_id FOR UPDATE`;

const UPDATE_ROWS = `
UPDATE agent_availability a SET status = u.status, since = u.since
FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS u (id, status, since)
WHERE a.organization_id = $1 AND a.agent_id = u.id`;

/** The hours of [from, to) in `status`, one row per hour bucket it touches, so hourly and daily rollups split it exactly. */
export function hoursByBucket(agentId: string, status: string, from: number, to: number): Contribution[] {
  const rows: Contribution[] = [];
  const dims = orderedDims({ agentId, status });
  for (let start = Math.max(from, to - MAX_AVAILABILITY_INTERVAL_MS); start < to; ) {
    const end = Math.min(to, Math.floor(start / HOUR) * HOUR + HOUR);
    rows.push({ type: DERIVED.agentAvailabilityHours, occurredAtMs: start, value: (end - start) / HOUR, dims });
    start = end;
  }
  return rows;
}

/**
 * Availability changes close the interval the agent spent in the previous
 * status and add its hours, by hour bucket, to agent:availability_hours. The
 * same status again counts nothing; a change older than the agent's current
 * status is kept raw but books no hours (the interval it would close is gone).
 */
export async function availabilityContributions(client: PoolClient, organizationId: string, events: ValidEvent[]): Promise<Derived> {
  const derived = emptyDerived();
  const changes = ofType(events, 'agent.status_changed');
  if (changes.length === 0) return derived;
  const ids = [...new Set(changes.map((event) => stringAttribute(event, 'agentId')!))].sort();
  const rows = await ensureAndLock<{ agent_id: string; status: string | null; since_ms: number | null }>(client, { ensure: ENSURE_ROWS, lock: LOCK_ROWS }, organizationId, ids, (row) => row.agent_id);
  const states = new Map(rows.map((row) => [row.agent_id, { status: row.status, sinceMs: row.since_ms === null ? null : Number(row.since_ms), dirty: false }]));

  for (const event of changes) {
    const agentId = stringAttribute(event, 'agentId')!;
    const state = states.get(agentId)!;
    const status = String(event.attributes.status);
    if (state.sinceMs !== null && event.occurredAtMs < state.sinceMs) continue;
    if (state.status === status) {
      derived.uncounted.add(event);
      continue;
    }
    if (state.status !== null && state.sinceMs !== null) derived.extra.push(...hoursByBucket(agentId, state.status, state.sinceMs, event.occurredAtMs));
    Object.assign(state, { status, sinceMs: event.occurredAtMs, dirty: true });
  }
  const dirty = [...states.entries()].filter(([, state]) => state.dirty);
  if (dirty.length > 0) {
    await client.query(UPDATE_ROWS, [organizationId, dirty.map(([id]) => id), dirty.map(([, s]) => s.status), dirty.map(([, s]) => new Date(s.sinceMs!).toISOString())]);
  }
  return derived;
}
