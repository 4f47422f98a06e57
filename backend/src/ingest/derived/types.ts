import type { QueryResultRow } from 'pg';
import type { PoolClient } from '../../db/pool.js';
import { ROLLUP_DIMENSIONS } from '../../rollups/dimensions.js';
import type { Contribution } from '../aggregate.js';
import type { ValidEvent } from '../schema.js';

/**
 * Derived rollup types: what ingestion adds to the rollups besides each
 * event's own row. Their names contain ':', which an event type sent to the
 * API can never contain, so no client can write into them.
 */
export const DERIVED = {
  conversationLevel: 'conversation:level',
  conversationSatisfaction: 'conversation:satisfaction',
  agentAvailabilityHours: 'agent:availability_hours',
  botConversationLevel: 'bot.conversation:level',
  botConversationMessages: 'bot.conversation:messages',
  botConversationSatisfaction: 'bot.conversation:satisfaction',
  botTokens: 'bot.response:tokens',
  botCost: 'bot.response:cost',
  botFallback: 'bot.response:fallback',
  botKnowledge: 'bot.response:knowledge',
  contactContacted: 'contact:contacted',
} as const;

/** What the events of one batch count beyond their own rows. */
export interface Derived {
  /** Stored events that count nothing (repeats): their raw row is kept, their rollup row is not written. */
  uncounted: Set<ValidEvent>;
  /** Rows of derived types. */
  extra: Contribution[];
}

export const emptyDerived = (): Derived => ({ uncounted: new Set(), extra: [] });

/**
 * Dims with keys in ROLLUP_DIMENSIONS order, as aggregate() needs them (equal
 * sets must give equal JSON). jsonb read back from PostgreSQL reorders keys.
 */
export function orderedDims(dims: Record<string, unknown>, only: readonly string[] = ROLLUP_DIMENSIONS): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ROLLUP_DIMENSIONS) {
    const value = dims[name];
    if (only.includes(name) && value !== undefined && value !== null) out[name] = String(value);
  }
  return out;
}

/** Batch events of one type, in time order (batch order between equal times). */
export function ofType(events: ValidEvent[], type: string): ValidEvent[] {
  return events.filter((event) => event.type === type).sort((a, b) => a.occurredAtMs - b.occurredAtMs);
}

export const stringAttribute = (event: ValidEvent, name: string): string | undefined => {
  const value = event.attributes[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
};

/**
 * Ensures a state row for every id, then locks them (FOR UPDATE, in id order).
 * The ensure takes no lock, so state retention (jobs/state-retention.ts) may
 * delete a row between the two statements; such a row is ensured again (a
 * deleted row held nothing a new one lacks: retention takes only closed or
 * blank states, and skips rows another transaction has locked).
 */
export async function ensureAndLock<Row>(
  client: PoolClient,
  statements: { ensure: string; lock: string },
  organizationId: string,
  ids: string[],
  idOf: (row: Row) => string,
): Promise<Row[]> {
  const locked: Row[] = [];
  let missing = [...new Set(ids)].sort();
  for (let attempt = 0; missing.length > 0; attempt += 1) {
    if (attempt === 3) throw new Error(`state rows of ${missing.length} ids vanished three times while being locked`);
    await client.query(statements.ensure, [organizationId, missing]);
    const rows = (await client.query<Row & QueryResultRow>(statements.lock, [organizationId, missing])).rows;
    locked.push(...rows);
    const found = new Set(rows.map(idOf));
    missing = missing.filter((id) => !found.has(id));
  }
  return locked;
}
