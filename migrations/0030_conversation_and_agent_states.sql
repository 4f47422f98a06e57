-- Up Migration

-- The last counted state of each conversation (conversation.status_changed
-- events that carry a conversationId). Ingestion reads and updates it under a
-- row lock in the batch's transaction, so that
--   * a repeated state change (same target state again) counts nothing, and
--   * "currently open / pending" levels move by -1 on the state left and +1 on
--     the state entered (derived rollup type conversation.status_changed:level),
--     with the -1 going to the dims (agent, channel, bot) the +1 went to.
-- A change older than the stored one still counts as a state entered but does
-- not move the level (the conversation is already past it).
CREATE TABLE conversation_states (
  organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  conversation_id text COLLATE "C" NOT NULL,
  state text,
  changed_at timestamptz,
  level_dims jsonb NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (organization_id, conversation_id)
);

-- The current availability status of each agent (agent.status_changed): the
-- next change closes the interval [since, next) and ingestion adds its hours,
-- split by hour, to the derived rollup type agent.status_changed:hours.
CREATE TABLE agent_availability (
  organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  agent_id text COLLATE "C" NOT NULL,
  status text,
  since timestamptz,
  PRIMARY KEY (organization_id, agent_id)
);

-- Down Migration
DROP TABLE agent_availability;
DROP TABLE conversation_states;
