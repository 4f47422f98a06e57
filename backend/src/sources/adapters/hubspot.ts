import { Client } from '@hubspot/api-client';
import type { FilterOperatorEnum } from '@hubspot/api-client/lib/codegen/crm/objects/models/Filter.js';
import { z } from 'zod';
import { envReferenceSchema, resolveEnv } from '../env-ref.js';
import { SourceError } from '../errors.js';
import { parseTime, parseValue, pointsToSeries, type Point } from '../points.js';
import { assertOrganizationAllowed, organizationsSchema } from '../tenancy.js';
import type { AdapterType, HealthStatus, Series, SourceAdapter, SourceQuery } from '../types.js';

/**
 * HubSpot CRM through the official client's v3 search endpoint. A metric names
 * an object type (deals, contacts, ...), the datetime property that places a
 * record in time, optionally a numeric property to measure and properties used
 * as labels, plus fixed filters (e.g. dealstage = closedwon). The time range
 * becomes a search filter; pages are followed by `paging.next.after`.
 */

/** HubSpot's search returns at most 200 records per page. */
const PAGE_SIZE = 200;

export const hubspotSourceSchema = z
  .object({
    id: z.string(),
    /** env:NAME holding a private app access token. */
    accessToken: envReferenceSchema,
    /** Only for a proxy or a local fake; the client default (https://api.hubapi.com) otherwise. */
    basePath: z.url({ protocol: /^https?$/ }).optional(),
    organizations: organizationsSchema,
  })
  .passthrough();
export type HubspotSource = z.infer<typeof hubspotSourceSchema>;

const property = z.string().regex(/^[a-z0-9_]+$/, 'must be a HubSpot property name (lowercase internal name)');
const OPERATORS = ['EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'IN', 'NOT_IN', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY'] as const;

export const hubspotMetricQuerySchema = z
  .object({
    objectType: z.string().regex(/^[a-z0-9_]+$/, 'must be an object type such as deals, contacts, companies, tickets'),
    time: property,
    value: property.optional(),
    labels: z.record(z.string(), property).default({}),
    filters: z
      .array(z.object({ propertyName: property, operator: z.enum(OPERATORS), value: z.string().optional(), values: z.array(z.string()).optional() }).strict())
      .default([]),
    maxRecords: z.number().int().positive().max(10_000, 'HubSpot search pages stop at 10,000 results').default(10_000),
  })
  .strict();

/** The client's errors carry the status and HubSpot's JSON body; keep only what a user can act on. */
function describeError(error: unknown): string {
  const code = (error as { code?: number }).code;
  const body = (error as { body?: { message?: string } }).body;
  const message = body?.message ?? (error instanceof Error ? error.message.split('\n')[0] : String(error));
  return `HubSpot ${code ? `${code} ` : ''}${message}`;
}

class HubspotAdapter implements SourceAdapter {
  readonly type = 'hubspot';
  private client: Client | undefined;

  constructor(private readonly source: HubspotSource) {}

  get id(): string {
    return this.source.id;
  }

  async initialize(): Promise<void> {
    this.client = new Client({
      accessToken: resolveEnv(this.source.accessToken),
      ...(this.source.basePath && { basePath: this.source.basePath }),
      // A slow or failing source must fail within its timeout, not after retries.
      numberOfApiCallRetries: 0,
    });
  }

  async query(query: SourceQuery, signal: AbortSignal): Promise<Series[]> {
    assertOrganizationAllowed(this.id, this.source.organizations, query.organizationId);
    const client = this.client;
    if (!client) throw new SourceError(this.id, 'unavailable', `source '${this.id}' is not initialized`);
    const spec = hubspotMetricQuerySchema.parse(query.metric.query ?? {});
    const properties = [...new Set([spec.time, ...(spec.value ? [spec.value] : []), ...Object.values(spec.labels)])];
    const filters = [
      ...spec.filters,
      { propertyName: spec.time, operator: 'GTE' as const, value: String(query.from.getTime()) },
      { propertyName: spec.time, operator: 'LT' as const, value: String(query.to.getTime()) },
    ].map((filter) => ({ ...filter, operator: filter.operator as FilterOperatorEnum }));
    const points: Point[] = [];
    let after: string | undefined;
    do {
      // The client takes no abort signal; stop paging once the registry gave up.
      if (signal.aborted) throw new SourceError(this.id, 'timeout', `metric '${query.metric.key}': aborted`);
      if (points.length >= spec.maxRecords) {
        throw new SourceError(this.id, 'failed', `metric '${query.metric.key}': more than ${spec.maxRecords} records; narrow the range or the filters`);
      }
      let page;
      try {
        page = await client.crm.objects.searchApi.doSearch(spec.objectType, {
          filterGroups: [{ filters }],
          properties,
          sorts: [spec.time],
          limit: PAGE_SIZE,
          ...(after && { after }),
        });
      } catch (error) {
        const code = (error as { code?: number }).code;
        throw new SourceError(this.id, code === 400 ? 'bad_query' : 'failed', `metric '${query.metric.key}': ${describeError(error)}`);
      }
      for (const record of page.results) points.push(this.toPoint(record.properties, spec, query.metric.key));
      after = page.paging?.next?.after;
    } while (after);
    return pointsToSeries(points, query);
  }

  private toPoint(properties: Record<string, string | null>, spec: z.infer<typeof hubspotMetricQuerySchema>, metricKey: string): Point {
    const time = parseTime(properties[spec.time] ?? undefined);
    if (time === undefined) throw new SourceError(this.id, 'bad_query', `metric '${metricKey}': property ${spec.time} is not a date or datetime`);
    const labels: Record<string, string> = {};
    for (const [dimension, name] of Object.entries(spec.labels)) {
      const value = properties[name];
      if (value !== undefined && value !== null) labels[dimension] = value;
    }
    return { time, value: spec.value ? parseValue(properties[spec.value]) : 1, labels };
  }

  async healthCheck(): Promise<HealthStatus> {
    if (!this.client) return { ok: false, detail: 'not initialized' };
    try {
      await this.client.crm.objects.basicApi.getPage('contacts', 1);
      return { ok: true, detail: 'CRM reachable' };
    } catch (error) {
      return { ok: false, detail: describeError(error) };
    }
  }

  async close(): Promise<void> {
    this.client = undefined;
  }
}

export const hubspotAdapterType: AdapterType<typeof hubspotSourceSchema, typeof hubspotMetricQuerySchema> = {
  type: 'hubspot',
  sourceSchema: hubspotSourceSchema,
  metricQuerySchema: hubspotMetricQuerySchema,
  create: (source) => new HubspotAdapter(source),
};
