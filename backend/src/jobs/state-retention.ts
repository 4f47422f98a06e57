import type { Pool } from '../db/pool.js';

/** Rows deleted per statement, so a large backlog never holds many row locks at once. */
const BATCH = 5_000;

/**
 * Conversations in a closed state (done, spam, unsubscribe) whose last change
 * is older than the cutoff, and blank rows. Open and pending conversations are
 * kept however old: each holds a +1 in the "open now" / "pending now" levels
 * that only its next change may take back.
 */
const DELETE_CONVERSATIONS = `
WITH gone AS (
  SELECT organization_id, conversation_id FROM conversation_states
  WHERE organization_id = $4 AND (state IS NULL OR (state = ANY($2::text[]) AND changed_at < $1))
  LIMIT $3 FOR UPDATE SKIP LOCKED)
DELETE FROM conversation_states c USING gone
WHERE c.organization_id = gone.organization_id AND c.conversation_id = gone.conversation_id`;

/** Agents whose status has not changed since before the cutoff, and blank rows. */
const DELETE_AGENTS = `
WITH gone AS (
  SELECT organization_id, agent_id FROM agent_availability
  WHERE organization_id = $3 AND (since IS NULL OR since < $1)
  LIMIT $2 FOR UPDATE SKIP LOCKED)
DELETE FROM agent_availability a USING gone
WHERE a.organization_id = gone.organization_id AND a.agent_id = gone.agent_id`;

/** States a conversation leaves no level in the default catalog for. */
export const CLOSED_CONVERSATION_STATES = ['done', 'spam', 'unsubscribe'];

async function deleteInBatches(run: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await run();
    total += deleted;
    if (deleted < BATCH) return total;
  }
}

/**
 * Retention of the per-conversation and per-agent state that ingestion keeps
 * (migration 0030), run with the raw-event retention: state last changed more
 * than `retentionDays` ago is deleted. The cutoff is never younger than the
 * raw retention (config), so an event old enough to need a deleted state is
 * already refused at ingestion; a later change of a forgotten conversation or
 * agent starts a new state (the agent's previous status books no hours).
 * One organization at a time, so every statement stays on one shard under
 * Citus (backend/test/citus-readiness.test.ts).
 */
export async function pruneStates(pool: Pool, retentionDays: number, now = Date.now()): Promise<{ conversations: number; agents: number }> {
  const cutoff = new Date(now - retentionDays * 86_400_000);
  const { rows: organizations } = await pool.query<{ id: string }>('SELECT id FROM organizations');
  let conversations = 0;
  let agents = 0;
  for (const { id } of organizations) {
    conversations += await deleteInBatches(async () => (await pool.query(DELETE_CONVERSATIONS, [cutoff, CLOSED_CONVERSATION_STATES, BATCH, id])).rowCount ?? 0);
    agents += await deleteInBatches(async () => (await pool.query(DELETE_AGENTS, [cutoff, BATCH, id])).rowCount ?? 0);
  }
  return { conversations, agents };
}
