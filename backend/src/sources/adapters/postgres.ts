import pg from 'pg';
import { z } from 'zod';
import type { CatalogMetric } from '../../catalog/schema.js';
import type { AppContext } from '../../context.js';
import { moduleUserIdOf, sourceConnectionOf } from '../../organizations/settings.js';
import { envReferenceSchema, MissingEnvError, resolveEnv } from '../env-ref.js';
import { SourceError } from '../errors.js';
import { translateNamedParameters } from '../named-params.js';
import { PERCENTILES } from '../points.js';
import type { AdapterType, Filter, HealthStatus, Series, SourceAdapter, SourceQuery } from '../types.js';

/**
 * Metrics defined by parameterised SQL over any PostgreSQL database (module
 * databases such as LeadTracker or Bookkeeping). The catalog's SQL returns one
 * row per fact with a `time` column, a `value` column and one column per
 * declared dimension; this adapter wraps it to filter, group and aggregate per
 * bucket, so group-by and filters never touch the catalog SQL itself.
 *
 * Tenancy: a database shared by several organizations is filtered by
 * :organization_id or by :module_user_id (the organization's `user_id` in the
 * module database, from its settings); a `per_organization` source opens the
 * organization's own database (its connection from its settings).
 */

/** Parameters a metric's SQL may use, all bound from the validated query, never from free text. */
const PARAMETERS = {
  organization_id: '',
  module_user_id: '::uuid',
  from: '::timestamptz',
  to: '::timestamptz',
  bucket: '::interval',
  bucket_seconds: '::double precision',
} as const;
type ParameterName = keyof typeof PARAMETERS;
const PARAMETER_NAMES = Object.keys(PARAMETERS) as ParameterName[];

export const postgresSourceSchema = z
  .object({
    id: z.string(),
    timeoutMs: z.number(),
    /**
     * `main` = Metrics Hub's own database; `env:NAME` = a variable holding a
     * postgres:// URL; `per_organization` = each organization's own database,
     * set with `metrics-hub sources connect`.
     */
    connection: z
      .string()
      .refine((value) => value === 'main' || value === PER_ORGANIZATION || envReferenceSchema.safeParse(value).success, {
        message: "must be 'main' (Metrics Hub's own database), 'per_organization' (each organization's own database) or env:NAME naming a variable that holds a postgres:// URL",
      }),
    /** Schema the SQL's unqualified table names resolve in (search_path), e.g. the demo's `demo_modules`. */
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case PostgreSQL schema name').optional(),
    /** Connections this source may open (its own pool; ignored for `main`). */
    poolMax: z.number().int().positive().max(100).default(4),
  })
  .passthrough();
export type PostgresSource = z.infer<typeof postgresSourceSchema>;

const PER_ORGANIZATION = 'per_organization';

export const postgresMetricQuerySchema = z
  .object({
    sql: z.string().min(1, 'required: SQL returning time, value and the dimension columns'),
  })
  .strict()
  .superRefine((query, context) => {
    const { names } = translateNamedParameters(query.sql);
    const unknown = names.filter((name) => !(PARAMETER_NAMES as string[]).includes(name));
    if (unknown.length > 0) {
      context.addIssue({ code: 'custom', path: ['sql'], message: `unknown parameter(s) ${unknown.map((name) => `:${name}`).join(', ')}; available: ${PARAMETER_NAMES.map((name) => `:${name}`).join(', ')}` });
    }
  });
export type PostgresMetricQuery = z.infer<typeof postgresMetricQuerySchema>;

const TENANT_PARAMETERS = ['organization_id', 'module_user_id'] as const;

/**
 * True when the SQL compares something with a tenant parameter (`col = :p`,
 * `:p = col`, `col IN (:p)`), outside comments and string literals. Only
 * mentioning the parameter (`SELECT :module_user_id`) filters nothing.
 */
export function filtersByTenant(sql: string): boolean {
  const marked = translateNamedParameters(sql, (name) => ((TENANT_PARAMETERS as readonly string[]).includes(name) ? ' \u0000tenant\u0000 ' : ' \u0000other\u0000 ')).text;
  return /(=|\bIN\s*\()\s*\u0000tenant\u0000/i.test(marked) || /\u0000tenant\u0000\s*(::\s*\w+\s*)?=/.test(marked);
}

/**
 * A database shared by organizations must be filtered by the tenant in every
 * metric; a per-organization database is the tenant itself.
 */
function checkMetric(source: PostgresSource, metric: CatalogMetric): Array<{ path: PropertyKey[]; message: string }> {
  if (source.connection === PER_ORGANIZATION) return [];
  const parsed = postgresMetricQuerySchema.safeParse(metric.query ?? {});
  if (!parsed.success || filtersByTenant(parsed.data.sql)) return [];
  return [
    {
      path: ['sql'],
      message:
        `must filter by :organization_id or :module_user_id: metric '${metric.key}' reads source '${source.id}', a database shared by organizations, ` +
        "and its SQL compares no column with the tenant (e.g. WHERE user_id = :module_user_id), so it would show every tenant's rows",
    },
  ];
}

/** Collects bound values and hands out their placeholders. */
class Parameters {
  readonly values: unknown[] = [];
  bind(value: unknown, cast = ''): string {
    this.values.push(value);
    return `$${this.values.length}${cast}`;
  }
}

function aggregateExpression(aggregation: SourceQuery['aggregation']): string {
  switch (aggregation) {
    case 'count':
      return 'count(*)';
    case 'sum':
    case 'avg':
    case 'min':
    case 'max':
      return `${aggregation}(metric.value::double precision)`;
    case 'distinct':
      // Exact over the SQL's rows: no rollups to merge here.
      return 'count(DISTINCT metric.value)';
    default:
      return `percentile_cont(${PERCENTILES[aggregation]}) WITHIN GROUP (ORDER BY metric.value::double precision)`;
  }
}

function filterCondition(filter: Filter, parameters: Parameters): string {
  const column = `metric.${pg.escapeIdentifier(filter.dimension)}::text`;
  switch (filter.op) {
    case 'eq':
      return `${column} = ${parameters.bind(filter.value, '::text')}`;
    case 'neq':
      return `${column} IS DISTINCT FROM ${parameters.bind(filter.value, '::text')}`;
    case 'in':
      return `${column} = ANY(${parameters.bind(filter.value, '::text[]')})`;
    case 'not_in':
      return `NOT (coalesce(${column}, '') = ANY(${parameters.bind(filter.value, '::text[]')}))`;
  }
}

/**
 * Builds the wrapped statement. Dimension names come from the catalog (already
 * checked by the query layer) and are quoted; every value is a parameter.
 */
export function buildStatement(query: SourceQuery, metricSql: string, tenant: { moduleUserId?: string | undefined } = {}): { text: string; values: unknown[] } {
  const parameters = new Parameters();
  const named: Record<ParameterName, unknown> = {
    organization_id: query.organizationId,
    module_user_id: tenant.moduleUserId,
    from: query.from,
    to: query.to,
    bucket: `${query.bucketMs} milliseconds`,
    bucket_seconds: query.bucketMs / 1000,
  };
  const placeholders = new Map<string, string>();
  const inner = translateNamedParameters(metricSql, (name) => {
    let placeholder = placeholders.get(name);
    if (!placeholder) {
      placeholder = parameters.bind(named[name as ParameterName], PARAMETERS[name as ParameterName]);
      placeholders.set(name, placeholder);
    }
    return placeholder;
  }).text;
  const bucketMs = parameters.bind(query.bucketMs, '::double precision');
  const dimensions = query.groupBy.map((dimension) => `metric.${pg.escapeIdentifier(dimension)}::text AS ${pg.escapeIdentifier(dimension)}`);
  const conditions = [
    `metric."time" >= ${parameters.bind(query.from, '::timestamptz')}`,
    `metric."time" < ${parameters.bind(query.to, '::timestamptz')}`,
    ...query.filters.map((filter) => filterCondition(filter, parameters)),
  ];
  const groupColumns = Array.from({ length: query.groupBy.length + 1 }, (_, index) => index + 1).join(', ');
  const text = `WITH metric AS (\n${inner}\n)
SELECT (floor(extract(epoch FROM metric."time") * 1000 / ${bucketMs}) * ${bucketMs})::double precision AS bucket_ms${dimensions.map((column) => `, ${column}`).join('')},
       (${aggregateExpression(query.aggregation)})::double precision AS value
FROM metric
WHERE ${conditions.join('\n  AND ')}
GROUP BY ${groupColumns}
ORDER BY ${groupColumns}`;
  return { text, values: parameters.values };
}

/** Rows ordered by bucket into one series per distinct set of group-by values. */
function rowsToSeries(rows: Array<Record<string, unknown>>, groupBy: string[]): Series[] {
  const series = new Map<string, Series>();
  for (const row of rows) {
    const labels = Object.fromEntries(groupBy.map((dimension) => [dimension, row[dimension] === null ? '' : String(row[dimension])]));
    const key = JSON.stringify(labels);
    let entry = series.get(key);
    if (!entry) series.set(key, (entry = { labels, times: [], values: [] }));
    entry.times.push(row.bucket_ms as number);
    entry.values.push(row.value as number | null);
  }
  for (const entry of series.values()) {
    // ORDER BY puts dimension values after the bucket; sort each series by time.
    const order = entry.times.map((_, index) => index).sort((a, b) => entry.times[a]! - entry.times[b]!);
    entry.times = order.map((index) => entry.times[index]!);
    entry.values = order.map((index) => entry.values[index]!);
  }
  return [...series.values()];
}

/** Maps PostgreSQL errors to what the user can act on. */
function toSourceError(sourceId: string, metricKey: string, error: unknown): SourceError {
  const code = (error as { code?: string }).code ?? '';
  const message = error instanceof Error ? error.message : String(error);
  if (code === '57014') return new SourceError(sourceId, 'timeout', `metric '${metricKey}': the query was cancelled (statement timeout or request timeout)`);
  // Class 42: syntax errors, undefined columns or tables in the catalog SQL.
  if (code.startsWith('42')) return new SourceError(sourceId, 'bad_query', `metric '${metricKey}': the catalog SQL failed: ${message}`);
  return new SourceError(sourceId, 'failed', `metric '${metricKey}': ${message}`);
}

/** Where one organization's query runs: a pool and the schema unqualified names resolve in. */
interface Target {
  pool: pg.Pool;
  schema: string | undefined;
}

class PostgresAdapter implements SourceAdapter {
  readonly type = 'postgres';
  private pool: pg.Pool | undefined;
  /** per_organization sources: one pool per distinct database URL, opened on first use. */
  private readonly organizationPools = new Map<string, pg.Pool>();
  private readonly ownsPool: boolean;
  private readonly perOrganization: boolean;

  constructor(
    private readonly source: PostgresSource,
    private readonly context: AppContext,
  ) {
    this.perOrganization = source.connection === PER_ORGANIZATION;
    this.ownsPool = source.connection !== 'main' && !this.perOrganization;
  }

  get id(): string {
    return this.source.id;
  }

  private openPool(connectionString: string): pg.Pool {
    const pool = new pg.Pool({
      connectionString,
      max: this.source.poolMax,
      connectionTimeoutMillis: this.source.timeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: `metrics-hub:${this.source.id}`,
    });
    pool.on('error', (error) => this.context.logger.warn({ err: error, source: this.source.id }, 'idle source connection lost'));
    return pool;
  }

  async initialize(): Promise<void> {
    // Each organization's database is reached (and fails) in its own queries.
    if (this.perOrganization) return;
    if (!this.ownsPool) {
      this.pool = this.context.pool;
    } else if (!this.pool) {
      this.pool = this.openPool(resolveEnv(this.source.connection));
    }
    try {
      await this.pool.query('SELECT 1');
    } catch (error) {
      if (this.ownsPool) {
        await this.pool.end().catch(() => undefined);
        this.pool = undefined;
      }
      throw error;
    }
  }

  /** The organization's own database for per_organization sources; the source's database otherwise. */
  private async target(organizationId: string): Promise<Target> {
    if (!this.perOrganization) {
      if (!this.pool) throw new SourceError(this.id, 'unavailable', `source '${this.id}' is not initialized`);
      return { pool: this.pool, schema: this.source.schema };
    }
    const setting = await sourceConnectionOf(this.context.pool, organizationId, this.id);
    if (!setting) {
      throw new SourceError(
        this.id,
        'bad_query',
        `source '${this.id}' has no connection for this organization (setting: connection of ${this.id}); set it with: metrics-hub sources connect ${this.id} --org <organization> --url env:NAME`,
      );
    }
    if (setting.connection === 'main') return { pool: this.context.pool, schema: setting.schema ?? this.source.schema };
    let url: string;
    try {
      url = resolveEnv(setting.connection);
    } catch (error) {
      if (error instanceof MissingEnvError) throw new SourceError(this.id, 'unavailable', `source '${this.id}': this organization's connection ${setting.connection}: ${error.message}`);
      throw error;
    }
    let pool = this.organizationPools.get(url);
    if (!pool) this.organizationPools.set(url, (pool = this.openPool(url)));
    return { pool, schema: setting.schema ?? this.source.schema };
  }

  /** Values of the tenant parameters the SQL uses, from the organization's settings. */
  private async tenant(query: SourceQuery, names: string[]): Promise<{ moduleUserId?: string }> {
    if (!names.includes('module_user_id')) return {};
    const moduleUserId = await moduleUserIdOf(this.context.pool, query.organizationId);
    if (!moduleUserId) {
      throw new SourceError(
        this.id,
        'bad_query',
        `metric '${query.metric.key}': this organization has no module_user_id setting (its user_id in the module database); set it with: metrics-hub orgs create <organization> --module-user-id <uuid>`,
      );
    }
    return { moduleUserId };
  }

  async query(query: SourceQuery, signal: AbortSignal): Promise<Series[]> {
    const metricQuery = postgresMetricQuerySchema.parse(query.metric.query ?? {});
    const { pool, schema } = await this.target(query.organizationId);
    const tenant = await this.tenant(query, translateNamedParameters(metricQuery.sql).names);
    const statement = buildStatement(query, metricQuery.sql, tenant);
    const client = await pool.connect().catch((error: unknown) => {
      throw toSourceError(this.id, query.metric.key, error);
    });
    let cancel: (() => void) | undefined;
    try {
      // Read-only: catalog SQL can never change data, whatever it says.
      await client.query('BEGIN READ ONLY');
      const session = await client.query<{ pid: number }>(
        "SELECT set_config('statement_timeout', $1, true), set_config('search_path', $2, true), pg_backend_pid() AS pid",
        [String(this.source.timeoutMs), schema ? `${pg.escapeIdentifier(schema)}, public` : '"$user", public'],
      );
      const pid = session.rows[0]!.pid;
      // The registry aborts on its timeout; cancel the statement so it stops using the database too.
      cancel = () => void pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
      if (signal.aborted) cancel();
      else signal.addEventListener('abort', cancel, { once: true });
      const result = await client.query<Record<string, unknown>>(statement.text, statement.values);
      await client.query('COMMIT');
      return rowsToSeries(result.rows, query.groupBy);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw toSourceError(this.id, query.metric.key, error);
    } finally {
      if (cancel) signal.removeEventListener('abort', cancel);
      client.release();
    }
  }

  async healthCheck(): Promise<HealthStatus> {
    if (this.perOrganization) return { ok: true, detail: `one database per organization (${this.organizationPools.size} open)` };
    if (!this.pool) return { ok: false, detail: 'not initialized' };
    await this.pool.query('SELECT 1');
    return { ok: true, detail: this.ownsPool ? 'connected' : "connected (Metrics Hub's own database)" };
  }

  async close(): Promise<void> {
    if (this.ownsPool && this.pool) await this.pool.end();
    await Promise.allSettled([...this.organizationPools.values()].map((pool) => pool.end()));
    this.organizationPools.clear();
    this.pool = undefined;
  }
}

export const postgresAdapterType: AdapterType<typeof postgresSourceSchema, typeof postgresMetricQuerySchema> = {
  type: 'postgres',
  sourceSchema: postgresSourceSchema,
  metricQuerySchema: postgresMetricQuerySchema,
  checkMetric,
  create: (source, context) => new PostgresAdapter(source, context),
};
