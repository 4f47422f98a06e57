import type { Pool } from '../db/pool.js';

/**
 * The module databases as they really are, written by the demo so that the
 * default catalog and the `vpa-core` preset run the same SQL:
 *
 * - the business modules (LeadTracker, Bookkeeping, Time & Billing,
 *   Reputation) share one database and tell tenants apart by `user_id`; the
 *   demo puts them in the schema `demo_modules` of Metrics Hub's own database;
 * - Communications is one database per business, without a tenant column; the
 *   demo gives each organization a schema of its own (`demo_comms_<slug>`).
 *
 * The DDL is the modules' own, unqualified: it runs with `search_path` set to
 * the target schema. Indexes are the demo's (the modules' DDL names none).
 * Not migrations: real module databases live elsewhere.
 */
export const DEMO_SCHEMA = 'demo_modules';

export const communicationsSchemaOf = (slug: string): string => `demo_comms_${slug}`;

export const BUSINESS_TABLES = ['prospects', 'transactions', 'time_entries', 'testimonials', 'reviews'] as const;

/** The shared business-module database (tenant column `user_id`). */
export const BUSINESS_MODULES_DDL = `
CREATE TABLE IF NOT EXISTS prospects (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID NOT NULL,
  status TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS transactions (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID NOT NULL,
  amount DECIMAL(10,2) NOT NULL,
  type TEXT NOT NULL, -- 'income' | 'expense'
  category TEXT,
  description TEXT,
  date TIMESTAMPTZ NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS time_entries (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID NOT NULL,
  hours DECIMAL(5,2) NOT NULL,
  billable BOOLEAN NOT NULL DEFAULT true,
  project_name TEXT,
  description TEXT,
  date TIMESTAMPTZ NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS testimonials (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID NOT NULL,
  client_name TEXT,
  testimonial_text TEXT,
  rating INTEGER,
  public BOOLEAN NOT NULL DEFAULT false,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS reviews (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID NOT NULL,
  source TEXT,
  rating DECIMAL(2,1),
  review_text TEXT,
  reviewed_at TIMESTAMPTZ NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
`;

const BUSINESS_INDEXES = `
CREATE INDEX IF NOT EXISTS prospects_user_updated ON prospects (user_id, updated_at);
CREATE INDEX IF NOT EXISTS transactions_user_date ON transactions (user_id, date);
CREATE INDEX IF NOT EXISTS time_entries_user_date ON time_entries (user_id, date);
CREATE INDEX IF NOT EXISTS testimonials_user_created ON testimonials (user_id, created_at);
CREATE INDEX IF NOT EXISTS reviews_user_reviewed ON reviews (user_id, reviewed_at);
`;

/**
 * One business's Communications database. Column types the module documents
 * only by name are: ids TEXT, durations and times-to-respond in seconds
 * (INTEGER), statuses TEXT.
 */
export const COMMUNICATIONS_DDL = `
CREATE TABLE IF NOT EXISTS agents (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  status TEXT,
  current_workload INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS agent_availability (
  agent_id TEXT NOT NULL,
  status TEXT NOT NULL,
  start_time TIMESTAMPTZ NOT NULL,
  end_time TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS lead_sources (
  name TEXT PRIMARY KEY,
  is_active BOOLEAN NOT NULL DEFAULT true
);
CREATE TABLE IF NOT EXISTS contacts (
  id TEXT PRIMARY KEY,
  lead_source TEXT,
  market TEXT,
  state TEXT,
  status TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_contact_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS contact_preferences (
  contact_id TEXT NOT NULL,
  opt_out_type TEXT NOT NULL,
  initiated_by TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS conversations (
  id TEXT PRIMARY KEY,
  contact_id TEXT,
  agent_id TEXT,
  status TEXT NOT NULL, -- 'open' | 'pending' | 'done' | 'spam' | 'unsubscribe'
  lead_source TEXT,
  market TEXT,
  product TEXT,
  first_response_time INTEGER,
  resolution_time INTEGER,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  closed_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS conversation_state_changes (
  conversation_id TEXT NOT NULL,
  agent_id TEXT,
  previous_status TEXT,
  new_status TEXT NOT NULL,
  changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  reason TEXT
);
CREATE TABLE IF NOT EXISTS message_events (
  id TEXT PRIMARY KEY,
  direction TEXT NOT NULL, -- 'inbound' | 'outbound'
  agent_id TEXT,
  contact_id TEXT,
  conversation_id TEXT,
  status TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  sent_at TIMESTAMPTZ,
  delivered_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS call_events (
  id TEXT PRIMARY KEY,
  direction TEXT NOT NULL,
  agent_id TEXT,
  contact_id TEXT,
  call_status TEXT NOT NULL,
  duration INTEGER,
  queue_time INTEGER,
  start_time TIMESTAMPTZ NOT NULL,
  end_time TIMESTAMPTZ
);
`;

const COMMUNICATIONS_INDEXES = `
CREATE INDEX IF NOT EXISTS message_events_created ON message_events (created_at);
CREATE INDEX IF NOT EXISTS call_events_start ON call_events (start_time);
CREATE INDEX IF NOT EXISTS conversations_created ON conversations (created_at);
CREATE INDEX IF NOT EXISTS conversations_closed ON conversations (closed_at);
CREATE INDEX IF NOT EXISTS contacts_created ON contacts (created_at);
`;

/** Runs unqualified DDL inside `schema` (created if missing). */
export async function createInSchema(pool: Pool, schema: string, ddl: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${client.escapeIdentifier(schema)}`);
    await client.query(`SET LOCAL search_path TO ${client.escapeIdentifier(schema)}`);
    await client.query(ddl);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** The shared business-module tables (safe to run on every demo start). */
export async function createBusinessTables(pool: Pool): Promise<void> {
  await createInSchema(pool, DEMO_SCHEMA, BUSINESS_MODULES_DDL + BUSINESS_INDEXES);
}

/** One organization's Communications tables, in its own schema. */
export async function createCommunicationsTables(pool: Pool, schema: string): Promise<void> {
  await createInSchema(pool, schema, COMMUNICATIONS_DDL + COMMUNICATIONS_INDEXES);
}
