import type { PoolClient } from '../../db/pool.js';
import { claimKeys, keyId } from '../claims.js';
import type { ValidEvent } from '../schema.js';
import { DERIVED, emptyDerived, ensureAndLock, ofType, orderedDims, stringAttribute, type Derived } from './types.js';

const STATUS_CHANGED = 'conversation.status_changed';
const FIRST_RESPONSE = 'conversation.first_response';
/** Dims a conversation's level rows carry: where it is, who and what handles it. */
const LEVEL_DIMS = ['status', 'channel', 'agentId', 'botId'] as const;

interface State {
  state: string | null;
  changedAtMs: number | null;
  levelDims: Record<string, string>;
  dirty: boolean;
}

const ENSURE_ROWS = `
INSERT INTO conversation_states (organization_id, conversation_id)
SELECT $1::uuid, id FROM unnest($2::text[]) AS id ORDER BY id
ON CONFLICT DO NOTHING`;

// Rows locked in id order, the same in every batch, so concurrent batches cannot deadlock.
const LOCK_ROWS = `
SELECT conversation_id, state, extract(epoch FROM changed_at) * 1000 AS changed_at_ms, level_dims
FROM conversation_states WHERE organization_id = $1 AND conversation_id = ANY($2::text[])
ORDER BY conversation_id FOR UPDATE`;

const UPDATE_ROWS = `
UPDATE conversation_states c SET state = u.state, changed_at = u.changed_at, level_dims = u.level_dims
FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::jsonb[]) AS u (id, state, changed_at, level_dims)
WHERE c.organization_id = $1 AND c.conversation_id = u.id`;

async function lockStates(client: PoolClient, organizationId: string, ids: string[]): Promise<Map<string, State>> {
  const rows = await ensureAndLock<{ conversation_id: string; state: string | null; changed_at_ms: number | null; level_dims: Record<string, unknown> }>(
    client,
    { ensure: ENSURE_ROWS, lock: LOCK_ROWS },
    organizationId,
    ids,
    (row) => row.conversation_id,
  );
  return new Map(
    rows.map((row) => [
      row.conversation_id,
      { state: row.state, changedAtMs: row.changed_at_ms === null ? null : Number(row.changed_at_ms), levelDims: orderedDims(row.level_dims), dirty: false },
    ]),
  );
}

/**
 * Conversation state changes count once per actual change:
 * - the same change sent again (same conversation, target state and time) counts nothing;
 * - a change to the state the conversation is already in counts nothing;
 * - a change older than the last one counted still counts as a state entered,
 *   but leaves the level alone (the conversation has moved on since).
 * Every counted change moves the level: -1 on the state left (with the dims
 * its +1 had), +1 on the state entered. Changes without a conversationId
 * count as sent and move no level. A first response counts once per conversation.
 */
export async function conversationContributions(client: PoolClient, organizationId: string, events: ValidEvent[]): Promise<Derived> {
  const derived = emptyDerived();
  const changes = ofType(events, STATUS_CHANGED);
  const firsts = ofType(events, FIRST_RESPONSE);
  if (changes.length === 0 && firsts.length === 0) return derived;

  const tracked = changes.filter((event) => stringAttribute(event, 'conversationId') !== undefined);
  // JSON: unambiguous whatever the id holds, and storable (a key cannot contain NUL).
  const changeKey = (event: ValidEvent) => JSON.stringify([stringAttribute(event, 'conversationId'), String(event.attributes.to), event.occurredAtMs]);
  const claimed = await claimKeys(client, organizationId, [
    ...tracked.map((event) => ({ scope: STATUS_CHANGED, key: changeKey(event), occurredAtMs: event.occurredAtMs })),
    ...firsts.map((event) => ({ scope: FIRST_RESPONSE, key: stringAttribute(event, 'conversationId')!, occurredAtMs: event.occurredAtMs })),
  ]);
  // `delete`: the first event of the batch holding a claim is the one that counts.
  for (const event of firsts) if (!claimed.delete(keyId(FIRST_RESPONSE, stringAttribute(event, 'conversationId')!))) derived.uncounted.add(event);
  const fresh = tracked.filter((event) => {
    if (claimed.delete(keyId(STATUS_CHANGED, changeKey(event)))) return true;
    derived.uncounted.add(event);
    return false;
  });

  const states = await lockStates(client, organizationId, fresh.map((event) => stringAttribute(event, 'conversationId')!));
  for (const event of fresh) {
    const state = states.get(stringAttribute(event, 'conversationId')!)!;
    const to = String(event.attributes.to);
    if (state.changedAtMs !== null && event.occurredAtMs < state.changedAtMs) continue;
    if (state.state === to) {
      derived.uncounted.add(event);
      continue;
    }
    const at = event.occurredAtMs;
    if (state.state !== null) derived.extra.push({ type: DERIVED.conversationLevel, occurredAtMs: at, value: -1, dims: state.levelDims });
    const levelDims = orderedDims({ ...event.dims, status: to }, LEVEL_DIMS);
    derived.extra.push({ type: DERIVED.conversationLevel, occurredAtMs: at, value: 1, dims: levelDims });
    Object.assign(state, { state: to, changedAtMs: at, levelDims, dirty: true });
  }
  const dirty = [...states.entries()].filter(([, state]) => state.dirty);
  if (dirty.length > 0) {
    await client.query(UPDATE_ROWS, [
      organizationId,
      dirty.map(([id]) => id),
      dirty.map(([, state]) => state.state),
      dirty.map(([, state]) => new Date(state.changedAtMs!).toISOString()),
      dirty.map(([, state]) => JSON.stringify(state.levelDims)),
    ]);
  }

  for (const event of changes) {
    const satisfaction = event.attributes.satisfaction;
    if (typeof satisfaction === 'number' && !derived.uncounted.has(event)) {
      derived.extra.push({ type: DERIVED.conversationSatisfaction, occurredAtMs: event.occurredAtMs, value: satisfaction, dims: event.dims });
    }
  }
  return derived;
}
