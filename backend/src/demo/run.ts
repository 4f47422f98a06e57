import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { createApiKey, createOrganization } from '../auth/keys.js';
import { DEFAULT_CATALOG_FILE, loadCatalog } from '../catalog/load.js';
import type { AppContext } from '../context.js';
import type { Pool } from '../db/pool.js';
import { distinctAttributesOf } from '../ingest/distinct-attributes.js';
import { ingestEvents } from '../ingest/ingest.js';
import { AGENTS, emptyRows, generateHour, LEAD_SOURCES, type DemoEvent, type ModuleRows, type OrganizationPlan } from './generate.js';
import { planIncidents, type Incident } from './incidents.js';
import { Random } from './random.js';
import { communicationsSchemaOf, createBusinessTables, createCommunicationsTables, DEMO_SCHEMA } from './schema.js';
import { setModuleUserId, setSourceConnection } from '../organizations/settings.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Ingestion's batch limit. */
const EVENT_BATCH = 5_000;

export interface DemoOptions {
  /** Days of history to generate (default 90). */
  days?: number;
  /** Same seed, same data (default 42). */
  seed?: number;
  /** End of the generated range (default: now). */
  now?: Date;
  /** Show a progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
}

export interface DemoOrganizationResult {
  name: string;
  id: string;
  /** A fresh key on every run: keys are stored hashed, so earlier ones cannot be shown again. */
  apiKey: string;
  /** False when the organization already had demo data (nothing was generated again). */
  generated: boolean;
  events: number;
  moduleRows: number;
}

export interface DemoResult {
  organizations: DemoOrganizationResult[];
  incidents: Incident[];
  incidentsFile: string;
  from: string;
  to: string;
  elapsedMs: number;
}

const ORGANIZATIONS = [
  { name: 'acme-demo', slug: 'acme', scale: 1, shiftDays: 0 },
  { name: 'globex-demo', slug: 'globex', scale: 0.55, shiftDays: 3 },
] as const;

/** The catalog source that reads each organization's own Communications database. */
export const COMMUNICATIONS_SOURCE = 'communications';

type Table = keyof ModuleRows;
const BUSINESS: Table[] = ['prospects', 'transactions', 'time_entries', 'reviews', 'testimonials'];

/** Columns of each table as the generator fills them (ids first); business tables also get `user_id`. */
const COLUMNS: Record<Table, Array<[name: string, type: string]>> = {
  prospects: [['id', 'uuid'], ['created_at', 'timestamptz'], ['updated_at', 'timestamptz'], ['status', 'text']],
  transactions: [['id', 'uuid'], ['date', 'timestamptz'], ['type', 'text'], ['category', 'text'], ['description', 'text'], ['amount', 'numeric']],
  time_entries: [['id', 'uuid'], ['date', 'timestamptz'], ['hours', 'numeric'], ['billable', 'boolean'], ['project_name', 'text'], ['description', 'text']],
  reviews: [['id', 'uuid'], ['reviewed_at', 'timestamptz'], ['rating', 'numeric'], ['source', 'text'], ['review_text', 'text']],
  testimonials: [['id', 'uuid'], ['created_at', 'timestamptz'], ['rating', 'integer'], ['client_name', 'text'], ['public', 'boolean']],
  contacts: [['id', 'text'], ['created_at', 'timestamptz'], ['lead_source', 'text'], ['market', 'text']],
  message_events: [['id', 'text'], ['created_at', 'timestamptz'], ['direction', 'text'], ['status', 'text'], ['agent_id', 'text'], ['contact_id', 'text'], ['sent_at', 'timestamptz'], ['delivered_at', 'timestamptz']],
  call_events: [['id', 'text'], ['start_time', 'timestamptz'], ['direction', 'text'], ['call_status', 'text'], ['duration', 'integer'], ['queue_time', 'integer'], ['agent_id', 'text'], ['contact_id', 'text'], ['end_time', 'timestamptz']],
  conversations: [
    ['id', 'text'], ['created_at', 'timestamptz'], ['first_response_time', 'integer'], ['resolution_time', 'integer'], ['closed_at', 'timestamptz'], ['status', 'text'],
    ['agent_id', 'text'], ['contact_id', 'text'], ['lead_source', 'text'], ['market', 'text'], ['product', 'text'],
  ],
};

/** A stable UUID for a demo id (the business modules key rows by UUID), so a rerun conflicts instead of duplicating. */
export function demoUuid(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** One statement per table: columns travel as arrays and are unnested server-side. */
export async function insertModuleRows(pool: Pool, target: { moduleUserId: string; communicationsSchema: string }, rows: ModuleRows): Promise<number> {
  let inserted = 0;
  for (const table of Object.keys(COLUMNS) as Table[]) {
    const data = rows[table] as unknown[][];
    if (data.length === 0) continue;
    const business = BUSINESS.includes(table);
    const columns = COLUMNS[table];
    const arrays = columns.map((_, index) => data.map((row) => (business && index === 0 ? demoUuid(row[0] as string) : row[index])));
    const schema = business ? DEMO_SCHEMA : target.communicationsSchema;
    const names = columns.map(([name]) => name);
    const unnest = `unnest(${columns.map(([, type], index) => `$${index + 1}::${type}[]`).join(', ')})`;
    const result = await pool.query(
      business
        ? `INSERT INTO ${schema}.${table} (user_id, ${names.join(', ')}) SELECT $${columns.length + 1}::uuid, * FROM ${unnest} ON CONFLICT DO NOTHING`
        : `INSERT INTO ${schema}.${table} (${names.join(', ')}) SELECT * FROM ${unnest} ON CONFLICT DO NOTHING`,
      business ? [...arrays, target.moduleUserId] : arrays,
    );
    inserted += result.rowCount ?? 0;
  }
  return inserted;
}

async function insertReferenceData(pool: Pool, communicationsSchema: string): Promise<void> {
  await pool.query(
    `INSERT INTO ${communicationsSchema}.agents (id, name, status, current_workload) SELECT id, name, 'online', 0 FROM unnest($1::text[], $2::text[]) AS a(id, name) ON CONFLICT DO NOTHING`,
    [AGENTS.map((agent) => agent[0]), AGENTS.map((agent) => agent[1])],
  );
  await pool.query(`INSERT INTO ${communicationsSchema}.lead_sources (name, is_active) SELECT name, true FROM unnest($1::text[]) AS s(name) ON CONFLICT DO NOTHING`, [
    LEAD_SOURCES.map((source) => source[1]),
  ]);
}

async function hasDemoData(pool: Pool, moduleUserId: string): Promise<boolean> {
  const result = await pool.query(`SELECT 1 FROM ${DEMO_SCHEMA}.transactions WHERE user_id = $1 LIMIT 1`, [moduleUserId]);
  return result.rowCount !== 0;
}

async function readIncidents(file: string): Promise<Incident[]> {
  try {
    return (JSON.parse(await fs.readFile(file, 'utf8')) as { incidents: Incident[] }).incidents;
  } catch {
    return [];
  }
}

/**
 * `metrics-hub demo`: two demo organizations (a key printed for each), the
 * module tables, and `days` of events and module rows with daily and weekly
 * seasonality and injected incidents, whose windows go to
 * DATA_DIR/demo-incidents.json. An organization that already has demo data is
 * left as it is (it only gets a new key), so running it twice is safe.
 */
export async function runDemo(context: Pick<AppContext, 'pool' | 'config' | 'cacheVersions' | 'logger'>, options: DemoOptions = {}): Promise<DemoResult> {
  const started = performance.now();
  const days = options.days ?? 90;
  const now = Math.floor((options.now?.getTime() ?? Date.now()) / 1000) * 1000;
  const rangeStart = Math.floor((now - days * DAY) / HOUR) * HOUR;
  const hours = Math.ceil((now - rangeStart) / HOUR);
  const { pool } = context;
  await createBusinessTables(pool);
  // Sketch what the catalog's distinct metrics count, as the API does.
  const distinct = distinctAttributesOf(loadCatalog(context.config.CATALOG_FILE ?? DEFAULT_CATALOG_FILE));

  const plans = await Promise.all(
    ORGANIZATIONS.map(async (organization) => {
      const row = await createOrganization(pool, organization.name);
      const plan: OrganizationPlan = { name: organization.name, slug: organization.slug, scale: organization.scale, incidents: planIncidents(organization.name, rangeStart, now, organization.shiftDays) };
      // The organization's tenant in the shared business-module tables, and its own Communications schema.
      const target = { moduleUserId: demoUuid(`module-user:${organization.name}`), communicationsSchema: communicationsSchemaOf(organization.slug) };
      await setModuleUserId(pool, organization.name, target.moduleUserId);
      await createCommunicationsTables(pool, target.communicationsSchema);
      await setSourceConnection(pool, organization.name, COMMUNICATIONS_SOURCE, { connection: 'main', schema: target.communicationsSchema });
      return { row, plan, target, generate: !(await hasDemoData(pool, target.moduleUserId)) };
    }),
  );

  const showProgress = options.progress ?? Boolean(process.stderr.isTTY);
  const bar = new cliProgress.SingleBar(
    { format: 'demo data |{bar}| {percentage}% | {organization} {day} | {events} events', stream: process.stderr, hideCursor: true, noTTYOutput: false },
    cliProgress.Presets.shades_classic,
  );
  const totalHours = hours * plans.filter((plan) => plan.generate).length;
  if (showProgress && totalHours > 0) bar.start(totalHours, 0, { organization: '', day: '', events: 0 });

  const results: DemoOrganizationResult[] = [];
  for (const [position, { row, plan, target, generate }] of plans.entries()) {
    let events = 0;
    let moduleRows = 0;
    if (generate) {
      await insertReferenceData(pool, target.communicationsSchema);
      const random = new Random((options.seed ?? 42) * 1000 + position);
      let pendingEvents: DemoEvent[] = [];
      let pendingRows = emptyRows();
      const flush = async () => {
        for (let offset = 0; offset < pendingEvents.length; offset += EVENT_BATCH) {
          const batch = pendingEvents.slice(offset, offset + EVENT_BATCH);
          const answer = await ingestEvents(pool, row.id, batch, { now: () => now + 60_000, cacheVersions: context.cacheVersions, distinct });
          if (answer.rejected.length > 0) throw new Error(`demo events rejected by ingestion: ${answer.rejected[0]!.error}`);
          events += answer.accepted;
        }
        moduleRows += await insertModuleRows(pool, target, pendingRows);
        pendingEvents = [];
        pendingRows = emptyRows();
      };
      for (let index = 0; index < hours; index += 1) {
        const hourStart = rangeStart + index * HOUR;
        generateHour({ plan, random, hourStart, rangeStart, now, index }, pendingEvents, pendingRows);
        if (pendingEvents.length >= EVENT_BATCH * 2 || index === hours - 1) await flush();
        if (showProgress) bar.increment({ organization: plan.name, day: new Date(hourStart).toISOString().slice(0, 10), events: events + pendingEvents.length });
      }
    }
    results.push({ name: plan.name, id: row.id, apiKey: (await createApiKey(pool, plan.name, 'demo')).key, generated: generate, events, moduleRows });
  }
  if (showProgress && totalHours > 0) bar.stop();

  const incidentsFile = path.resolve(context.config.DATA_DIR, 'demo-incidents.json');
  // An organization generated by an earlier run keeps the incident times that run recorded.
  const earlier = await readIncidents(incidentsFile);
  const incidents = plans.flatMap(({ plan, generate }) => (generate ? plan.incidents : earlier.filter((incident) => incident.organization === plan.name)));
  const result: DemoResult = {
    organizations: results,
    incidents,
    incidentsFile,
    from: new Date(rangeStart).toISOString(),
    to: new Date(now).toISOString(),
    elapsedMs: Math.round(performance.now() - started),
  };
  // Only a run that generated data defines where the incidents are.
  if (plans.some((plan) => plan.generate)) {
    await fs.mkdir(path.dirname(incidentsFile), { recursive: true });
    await fs.writeFile(incidentsFile, `${JSON.stringify({ from: result.from, to: result.to, seed: options.seed ?? 42, incidents }, null, 2)}\n`);
  }
  context.logger.info({ organizations: results.map(({ apiKey: _key, ...rest }) => rest), incidentsFile, elapsedMs: result.elapsedMs }, 'demo data ready');
  return result;
}

/** What `metrics-hub demo` prints: one line per organization with its key, then where the incidents are. */
export function describeDemo(result: DemoResult): string {
  const lines = [`Demo data from ${result.from} to ${result.to} (${(result.elapsedMs / 1000).toFixed(1)} s):`];
  for (const organization of result.organizations) {
    const data = organization.generated ? `${organization.events} events, ${organization.moduleRows} module rows` : 'data already present, nothing generated';
    lines.push(`  ${organization.name.padEnd(12)} ${data}`, `    API key: ${organization.apiKey}`);
  }
  lines.push(`Injected incidents (${result.incidents.length}) are listed in ${result.incidentsFile}`);
  return lines.join('\n');
}
