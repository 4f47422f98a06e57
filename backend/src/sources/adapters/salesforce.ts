import jsforce from 'jsforce';
import { z } from 'zod';
import { envReferenceSchema, resolveEnv } from '../env-ref.js';
import { SourceError } from '../errors.js';
import { parseTime, parseValue, pointsToSeries, type Point } from '../points.js';
import { readField } from '../record-fields.js';
import { assertOrganizationAllowed, organizationsSchema } from '../tenancy.js';
import type { AdapterType, HealthStatus, Series, SourceAdapter, SourceQuery } from '../types.js';

/**
 * Salesforce through jsforce (REST query API). A metric is a SOQL query with
 * :from and :to placeholders (written as SOQL datetime literals) and the fields
 * to read time, value and labels from; all pages (nextRecordsUrl) are fetched
 * and bucketed here.
 */

export const salesforceSourceSchema = z
  .object({
    id: z.string(),
    timeoutMs: z.number(),
    /** The org's My Domain URL, e.g. https://acme.my.salesforce.com. */
    instanceUrl: z.url({ protocol: /^https?$/, error: 'must be the org URL, e.g. https://acme.my.salesforce.com' }),
    /** env:NAME holding an OAuth access token (connected app). */
    accessToken: envReferenceSchema,
    apiVersion: z.string().regex(/^\d+\.\d$/, 'must look like 59.0').default('59.0'),
    organizations: organizationsSchema,
  })
  .passthrough();
export type SalesforceSource = z.infer<typeof salesforceSourceSchema>;

const fieldPath = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'must be a field name, or Relationship.Field');

export const salesforceMetricQuerySchema = z
  .object({
    soql: z
      .string()
      .min(1)
      .refine((soql) => /:from\b/.test(soql) && /:to\b/.test(soql), 'must restrict the time range with :from and :to (e.g. WHERE CloseDate >= :from AND CloseDate < :to)'),
    time: fieldPath,
    /** Without a value field each record counts 1. */
    value: fieldPath.optional(),
    labels: z.record(z.string(), fieldPath).default({}),
    maxRecords: z.number().int().positive().max(200_000).default(50_000),
  })
  .strict();

/** SOQL date literals are unquoted: 2026-02-01T00:00:00Z (no milliseconds). */
function soqlDateTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function fillSoql(soql: string, query: SourceQuery): string {
  return soql.replace(/:(from|to)\b/g, (_, name: 'from' | 'to') => soqlDateTime(query[name]));
}

class SalesforceAdapter implements SourceAdapter {
  readonly type = 'salesforce';
  private connection: jsforce.Connection | undefined;

  constructor(private readonly source: SalesforceSource) {}

  get id(): string {
    return this.source.id;
  }

  async initialize(): Promise<void> {
    this.connection = new jsforce.Connection({
      instanceUrl: this.source.instanceUrl,
      accessToken: resolveEnv(this.source.accessToken),
      version: this.source.apiVersion,
    });
  }

  async query(query: SourceQuery, _signal: AbortSignal): Promise<Series[]> {
    assertOrganizationAllowed(this.id, this.source.organizations, query.organizationId);
    if (!this.connection) throw new SourceError(this.id, 'unavailable', `source '${this.id}' is not initialized`);
    const spec = salesforceMetricQuerySchema.parse(query.metric.query ?? {});
    let result: { records: Array<Record<string, unknown>>; nextRecordsUrl?: string };
    try {
      result = await this.connection.query(fillSoql(spec.soql, query), { autoFetch: true, maxFetch: spec.maxRecords });
    } catch (error) {
      const code = (error as { errorCode?: string }).errorCode ?? '';
      const message = error instanceof Error ? error.message : String(error);
      throw new SourceError(this.id, /MALFORMED_QUERY|INVALID_FIELD|INVALID_TYPE/.test(code) ? 'bad_query' : 'failed', `metric '${query.metric.key}': Salesforce ${code ? `${code}: ` : ''}${message}`);
    }
    if (result.nextRecordsUrl) {
      throw new SourceError(this.id, 'failed', `metric '${query.metric.key}': more than ${spec.maxRecords} records; narrow the range or raise maxRecords`);
    }
    const points: Point[] = result.records.map((record) => {
      const time = parseTime(readField(record, spec.time));
      if (time === undefined) throw new SourceError(this.id, 'bad_query', `metric '${query.metric.key}': field ${spec.time} is not a date or datetime`);
      const labels: Record<string, string> = {};
      for (const [dimension, path] of Object.entries(spec.labels)) {
        const value = readField(record, path);
        if (value !== undefined && value !== null) labels[dimension] = String(value);
      }
      return { time, value: spec.value ? parseValue(readField(record, spec.value)) : 1, labels };
    });
    return pointsToSeries(points, query);
  }

  async healthCheck(): Promise<HealthStatus> {
    if (!this.connection) return { ok: false, detail: 'not initialized' };
    const limits = await this.connection.limits();
    const calls = limits.DailyApiRequests;
    return { ok: true, detail: calls ? `API requests remaining today: ${calls.Remaining} of ${calls.Max}` : 'reachable' };
  }

  async close(): Promise<void> {
    this.connection = undefined;
  }
}

export const salesforceAdapterType: AdapterType<typeof salesforceSourceSchema, typeof salesforceMetricQuerySchema> = {
  type: 'salesforce',
  sourceSchema: salesforceSourceSchema,
  metricQuerySchema: salesforceMetricQuerySchema,
  create: (source) => new SalesforceAdapter(source),
};
