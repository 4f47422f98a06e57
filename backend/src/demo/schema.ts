import type { Pool } from '../db/pool.js';

/**
 * The demo module databases (LeadTracker, Bookkeeping, Time & Billing,
 * Reputation, Communications) as tables in one schema of Metrics Hub's own
 * database, so the catalog's `postgres` sources with `connection: main` serve
 * them without any setup. Not migrations: real module databases live
 * elsewhere; these tables exist only for the demo. Every row carries its
 * organization, and every index leads with it, as a real tenant table would.
 */
export const DEMO_SCHEMA = 'demo_modules';

export const DEMO_TABLES = [
  'prospects',
  'transactions',
  'time_entries',
  'reviews',
  'testimonials',
  'agents',
  'lead_sources',
  'contacts',
  'message_events',
  'call_events',
  'conversations',
] as const;

const DDL = `
CREATE SCHEMA IF NOT EXISTS ${DEMO_SCHEMA};

-- LeadTracker
CREATE TABLE IF NOT EXISTS ${DEMO_SCHEMA}.prospects (
  organization_id uuid NOT NULL,
  id text NOT NULL,
  created_at timestamptz NOT NULL,
  closed_at timestamptz,
  status text NOT NULL CHECK (status IN ('open', 'won', 'lost')),
  stage text NOT NULL,
  source text NOT NULL,
  owner text NOT NULL,
  value numeric(12, 2) NOT NULL,
  PRIMARY KEY (organization_id, id)
);
CREATE INDEX IF NOT EXISTS prospects_created ON ${DEMO_SCHEMA}.prospects (organization_id, created_at);
CREATE INDEX IF NOT EXISTS prospects_closed ON ${DEMO_SCHEMA}.prospects (organization_id, closed_at);

-- Bookkeeping
CREATE TABLE IF NOT EXISTS ${DEMO_SCHEMA}.transactions (
  organization_id uuid NOT NULL,
  id text NOT NULL,
  occurred_at timestamptz NOT NULL,
  kind text NOT NULL CHECK (kind IN ('income', 'expense')),
  category text NOT NULL,
  account text NOT NULL,
  amount numeric(12, 2) NOT NULL CHECK (amount >= 0),
  PRIMARY KEY (organization_id, id)
);
CREATE INDEX IF NOT EXISTS transactions_time ON ${DEMO_SCHEMA}.transactions (organization_id, occurred_at);

-- Time & Billing
CREATE TABLE IF NOT EXISTS ${DEMO_SCHEMA}.time_entries (
  organization_id uuid NOT NULL,
  id text NOT NULL,
  started_at timestamptz NOT NULL,
  hours numeric(6, 2) NOT NULL CHECK (hours > 0),
  billable boolean NOT NULL,
  project text NOT NULL,
  employee text NOT NULL,
  PRIMARY KEY (organization_id, id)
);
CREATE INDEX IF NOT EXISTS time_entries_time ON ${DEMO_SCHEMA}.time_entries (organization_id, started_at);

-- Reputation
CREATE TABLE IF NOT EXISTS ${DEMO_SCHEMA}.reviews (
  organization_id uuid NOT NULL,
  id text NOT NULL,
  created_at timestamptz NOT NULL,
  rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
  platform text NOT NULL,
  location text NOT NULL,
  PRIMARY KEY (organization_id, id)
);
CREATE INDEX IF NOT EXISTS reviews_time ON ${DEMO_SCHEMA}.reviews (organization_id, created_at);
CREATE TABLE IF NOT EXISTS ${DEMO_SCHEMA}.testimonials (
  organization_id uuid NOT NULL,
  id text NOT NULL,
  created_at timestamptz NOT NULL,
  rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
  channel text NOT NULL,
  published boolean NOT NULL,
  PRIMARY KEY (organization_id, id)
);
CREATE INDEX IF NOT EXISTS testimonials_time ON ${DEMO_SCHEMA}.testimonials (organization_id, created_at);

-- Communications
CREATE TABLE IF NOT EXISTS ${DEMO_SCHEMA}.agents (
  organization_id uuid NOT NULL,
  id text NOT NULL,
  name text NOT NULL,
  team text NOT NULL,
  PRIMARY KEY (organization_id, id)
);
CREATE TABLE IF NOT EXISTS ${DEMO_SCHEMA}.lead_sources (
  organization_id uuid NOT NULL,
  id text NOT NULL,
  name text NOT NULL,
  kind text NOT NULL,
  PRIMARY KEY (organization_id, id)
);
CREATE TABLE IF NOT EXISTS ${DEMO_SCHEMA}.contacts (
  organization_id uuid NOT NULL,
  id text NOT NULL,
  created_at timestamptz NOT NULL,
  lead_source_id text NOT NULL,
  PRIMARY KEY (organization_id, id)
);
CREATE INDEX IF NOT EXISTS contacts_time ON ${DEMO_SCHEMA}.contacts (organization_id, created_at);
CREATE TABLE IF NOT EXISTS ${DEMO_SCHEMA}.message_events (
  organization_id uuid NOT NULL,
  id text NOT NULL,
  occurred_at timestamptz NOT NULL,
  direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  channel text NOT NULL,
  status text NOT NULL,
  agent_id text,
  contact_id text NOT NULL,
  PRIMARY KEY (organization_id, id)
);
CREATE INDEX IF NOT EXISTS message_events_time ON ${DEMO_SCHEMA}.message_events (organization_id, occurred_at);
CREATE TABLE IF NOT EXISTS ${DEMO_SCHEMA}.call_events (
  organization_id uuid NOT NULL,
  id text NOT NULL,
  occurred_at timestamptz NOT NULL,
  direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  status text NOT NULL CHECK (status IN ('answered', 'missed')),
  duration_s integer NOT NULL,
  agent_id text,
  contact_id text NOT NULL,
  PRIMARY KEY (organization_id, id)
);
CREATE INDEX IF NOT EXISTS call_events_time ON ${DEMO_SCHEMA}.call_events (organization_id, occurred_at);
CREATE TABLE IF NOT EXISTS ${DEMO_SCHEMA}.conversations (
  organization_id uuid NOT NULL,
  id text NOT NULL,
  opened_at timestamptz NOT NULL,
  first_response_at timestamptz,
  resolved_at timestamptz,
  channel text NOT NULL,
  agent_id text NOT NULL,
  contact_id text NOT NULL,
  PRIMARY KEY (organization_id, id)
);
CREATE INDEX IF NOT EXISTS conversations_opened ON ${DEMO_SCHEMA}.conversations (organization_id, opened_at);
CREATE INDEX IF NOT EXISTS conversations_resolved ON ${DEMO_SCHEMA}.conversations (organization_id, resolved_at);
`;

/** Creates the demo schema and tables if they are missing (safe to run on every demo start). */
export async function createDemoTables(pool: Pool): Promise<void> {
  await pool.query(DDL);
}
