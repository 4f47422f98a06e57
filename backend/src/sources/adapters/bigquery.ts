import { BigQuery, type BigQueryOptions } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { z } from 'zod';
import { envReferenceSchema, resolveEnv } from '../env-ref.js';
import { SourceError } from '../errors.js';
import { parseTime, parseValue, pointsToSeries, type Point } from '../points.js';
import { assertOrganizationAllowed, organizationsSchema } from '../tenancy.js';
import type { AdapterType, HealthStatus, Series, SourceAdapter, SourceQuery } from '../types.js';

/**
 * Google BigQuery, typically the GA4 export (`analytics_<property>.events_*`),
 * through the official client. A metric is Standard SQL with BigQuery's own
 * named parameters (@from, @to, @bucket_seconds, @organization_id) returning a
 * `time` column, a `value` column and dimension columns; rows are bucketed and
 * aggregated here.
 */

export const bigquerySourceSchema = z
  .object({
    id: z.string(),
    timeoutMs: z.number(),
    /** The Google Cloud project that runs the queries (literal or env:NAME). */
    projectId: z.string().min(1, 'required: the Google Cloud project that runs the queries'),
    /**
     * Default dataset (literal or env:NAME), e.g. the GA4 export `analytics_123456789`,
     * so catalog SQL names tables without a dataset (`events_*`) and one catalog serves every property.
     */
    dataset: z.string().min(1).optional(),
    /** Dataset location, e.g. EU or US. */
    location: z.string().min(1).optional(),
    /** Only for regional or private endpoints (and local fakes); the client default otherwise. */
    apiEndpoint: z.url({ protocol: /^https?$/ }).optional(),
    /** env:NAME holding the path of a service-account key file; without it, Application Default Credentials. */
    keyFilename: envReferenceSchema.optional(),
    /** env:NAME holding an OAuth access token (short-lived; e.g. minted by a workload identity). */
    accessToken: envReferenceSchema.optional(),
    organizations: organizationsSchema,
  })
  .passthrough();
export type BigquerySource = z.infer<typeof bigquerySourceSchema>;

export const bigqueryMetricQuerySchema = z
  .object({
    sql: z.string().min(1, 'required: Standard SQL returning time, value and the dimension columns'),
    /**
     * Per dimension, a table from the value the SQL returns to the name shown
     * (e.g. GA4 event names to feature names); rows whose value is not in the
     * table are left out, so the table also says which events count.
     */
    labelMaps: z.record(z.string(), z.record(z.string(), z.string().min(1))).optional(),
  })
  .strict()
  .superRefine((query, context) => {
    const used = [...query.sql.matchAll(/@(\w+)/g)].map((match) => match[1]!);
    const unknown = used.filter((name) => !(PARAMETERS as readonly string[]).includes(name));
    if (unknown.length > 0) {
      context.addIssue({ code: 'custom', path: ['sql'], message: `unknown parameter(s) ${[...new Set(unknown)].map((name) => `@${name}`).join(', ')}; available: ${PARAMETERS.map((name) => `@${name}`).join(', ')}` });
    }
  });

const PARAMETERS = ['from', 'to', 'bucket_seconds', 'organization_id'] as const;

/** The client returns TIMESTAMP, DATE and NUMERIC values as wrapper objects holding `value`. */
function plain(raw: unknown): unknown {
  if (raw && typeof raw === 'object' && !(raw instanceof Date) && 'value' in raw) return (raw as { value: unknown }).value;
  return raw;
}

/** Passes only the parameters a query uses: BigQuery rejects unused ones. */
function parametersFor(sql: string, query: SourceQuery): Record<string, unknown> {
  const all: Record<(typeof PARAMETERS)[number], unknown> = {
    from: BigQuery.timestamp(query.from),
    to: BigQuery.timestamp(query.to),
    bucket_seconds: Math.round(query.bucketMs / 1000),
    organization_id: query.organizationId,
  };
  return Object.fromEntries(PARAMETERS.filter((name) => new RegExp(`@${name}\\b`).test(sql)).map((name) => [name, all[name]]));
}

class BigqueryAdapter implements SourceAdapter {
  readonly type = 'bigquery';
  private client: BigQuery | undefined;

  constructor(private readonly source: BigquerySource) {}

  get id(): string {
    return this.source.id;
  }

  private defaultDataset: { projectId: string; datasetId: string } | undefined;

  async initialize(): Promise<void> {
    const projectId = resolveEnv(this.source.projectId);
    this.defaultDataset = this.source.dataset ? { projectId, datasetId: resolveEnv(this.source.dataset) } : undefined;
    const options: BigQueryOptions = {
      projectId,
      ...(this.source.location && { location: this.source.location }),
      ...(this.source.apiEndpoint && { apiEndpoint: this.source.apiEndpoint }),
      ...(this.source.keyFilename && { keyFilename: resolveEnv(this.source.keyFilename) }),
      // A slow or failing source must fail within its timeout, not after the client's retries.
      autoRetry: false,
    };
    if (this.source.accessToken) {
      const auth = new OAuth2Client();
      auth.setCredentials({ access_token: resolveEnv(this.source.accessToken), expiry_date: Date.now() + 365 * 86_400_000 });
      options.authClient = auth;
    }
    this.client = new BigQuery(options);
  }

  async query(query: SourceQuery, _signal: AbortSignal): Promise<Series[]> {
    assertOrganizationAllowed(this.id, this.source.organizations, query.organizationId);
    if (!this.client) throw new SourceError(this.id, 'unavailable', `source '${this.id}' is not initialized`);
    const { sql, labelMaps } = bigqueryMetricQuerySchema.parse(query.metric.query ?? {});
    let rows: Array<Record<string, unknown>>;
    try {
      [rows] = await this.client.query({
        query: sql,
        params: parametersFor(sql, query),
        useLegacySql: false,
        ...(this.defaultDataset && { defaultDataset: this.defaultDataset }),
        ...(this.source.location && { location: this.source.location }),
      });
    } catch (error) {
      const status = (error as { code?: number }).code;
      const message = error instanceof Error ? error.message : String(error);
      throw new SourceError(this.id, status === 400 ? 'bad_query' : 'failed', `metric '${query.metric.key}': BigQuery ${status ? `${status} ` : ''}${message}`);
    }
    const points: Point[] = rows.flatMap((row) => {
      const time = parseTime(plain(row.time));
      if (time === undefined) throw new SourceError(this.id, 'bad_query', `metric '${query.metric.key}': the SQL must return a 'time' column (TIMESTAMP, DATE or YYYYMMDD)`);
      const labels: Record<string, string> = {};
      for (const dimension of query.metric.dimensions) {
        const value = plain(row[dimension]);
        if (value !== undefined && value !== null) labels[dimension] = String(value);
      }
      for (const [dimension, table] of Object.entries(labelMaps ?? {})) {
        const mapped = table[labels[dimension] ?? ''];
        if (mapped === undefined) return [];
        labels[dimension] = mapped;
      }
      return [{ time, value: parseValue(plain(row.value)), labels }];
    });
    return pointsToSeries(points, query);
  }

  async healthCheck(): Promise<HealthStatus> {
    if (!this.client) return { ok: false, detail: 'not initialized' };
    const [datasets] = await this.client.getDatasets({ maxResults: 1 });
    return { ok: true, detail: `project ${resolveEnv(this.source.projectId)} reachable (${datasets.length ? 'datasets visible' : 'no datasets'})` };
  }

  async close(): Promise<void> {
    this.client = undefined;
  }
}

export const bigqueryAdapterType: AdapterType<typeof bigquerySourceSchema, typeof bigqueryMetricQuerySchema> = {
  type: 'bigquery',
  sourceSchema: bigquerySourceSchema,
  metricQuerySchema: bigqueryMetricQuerySchema,
  create: (source) => new BigqueryAdapter(source),
};
