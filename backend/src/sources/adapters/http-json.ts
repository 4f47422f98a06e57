import { JSONPath } from 'jsonpath-plus';
import { z } from 'zod';
import { literalOrEnvSchema, resolveEnv } from '../env-ref.js';
import { SourceError } from '../errors.js';
import { parseTime, parseValue, pointsToSeries, type Point } from '../points.js';
import { assertOrganizationAllowed, organizationsSchema } from '../tenancy.js';
import type { AdapterType, HealthStatus, Series, SourceAdapter, SourceQuery } from '../types.js';

/**
 * Metrics from any JSON API: the catalog says which URL to call (a template
 * with :from, :to, ...), where the points are in the answer and how to read
 * time, value and labels from each point (JSONPath), and where the next page's
 * link is. Points are bucketed and aggregated here.
 */

const jsonPath = z.string().min(1).refine((path) => {
  try {
    JSONPath({ path: path.startsWith('$') ? path : `$.${path}`, json: {}, wrap: true });
    return true;
  } catch {
    return false;
  }
}, 'must be a JSONPath expression such as $.data[*] or a field name');

export const httpJsonSourceSchema = z
  .object({
    id: z.string(),
    /** Metric URLs that are relative resolve against this. */
    baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    /** Sent with every request; values may be env:NAME (tokens never live in the catalog). */
    headers: z.record(z.string(), literalOrEnvSchema).default({}),
    /** GET this for health checks (relative to baseUrl); without it health means "configured". */
    healthUrl: z.string().min(1).optional(),
    organizations: organizationsSchema,
  })
  .passthrough();
export type HttpJsonSource = z.infer<typeof httpJsonSourceSchema>;

export const httpJsonMetricQuerySchema = z
  .object({
    url: z.string().min(1, 'required: the URL to call, e.g. /v1/signups?from=:from&to=:to'),
    method: z.enum(['GET', 'POST']).default('GET'),
    /** JSON body for POST; strings may hold the same :parameters as the URL. */
    body: z.unknown().optional(),
    /** Where the list of points is in each answer. */
    points: jsonPath.default('$[*]'),
    /** Read from each point. */
    time: jsonPath,
    value: jsonPath.optional(),
    timeFormat: z.enum(['auto', 'iso', 'epoch_ms', 'epoch_s']).default('auto'),
    /** Dimension name -> where its value is in each point. */
    labels: z.record(z.string(), jsonPath).default({}),
    /** Where the next page's URL is in each answer (absent or empty = last page). */
    next: jsonPath.optional(),
    maxPages: z.number().int().positive().max(1000).default(50),
  })
  .strict();
export type HttpJsonMetricQuery = z.infer<typeof httpJsonMetricQuerySchema>;

function read(path: string, json: unknown): unknown[] {
  return JSONPath({ path: path.startsWith('$') ? path : `$.${path}`, json: json as object, wrap: true }) as unknown[];
}

/** Longest names first, so :from_ms is not read as :from followed by "_ms". */
const TEMPLATE = /:(organization_id|bucket_seconds|from_ms|to_ms|from|to)\b/g;

export function templateValues(query: SourceQuery): Record<string, string | number> {
  return {
    organization_id: query.organizationId,
    from: query.from.toISOString(),
    to: query.to.toISOString(),
    from_ms: query.from.getTime(),
    to_ms: query.to.getTime(),
    bucket_seconds: query.bucketMs / 1000,
  };
}

function fillUrl(template: string, values: Record<string, string | number>): string {
  return template.replace(TEMPLATE, (_, name: string) => encodeURIComponent(String(values[name])));
}

/** A string that is exactly one parameter keeps the parameter's type (numbers stay numbers). */
function fillBody(body: unknown, values: Record<string, string | number>): unknown {
  if (typeof body === 'string') {
    const whole = /^:(\w+)$/.exec(body);
    if (whole && whole[1]! in values) return values[whole[1]!];
    return body.replace(TEMPLATE, (_, name: string) => String(values[name]));
  }
  if (Array.isArray(body)) return body.map((item) => fillBody(item, values));
  if (body && typeof body === 'object') return Object.fromEntries(Object.entries(body).map(([key, item]) => [key, fillBody(item, values)]));
  return body;
}

function describe(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

class HttpJsonAdapter implements SourceAdapter {
  readonly type = 'http-json';
  private headers: Record<string, string> = {};

  constructor(private readonly source: HttpJsonSource) {}

  get id(): string {
    return this.source.id;
  }

  async initialize(): Promise<void> {
    this.headers = Object.fromEntries(Object.entries(this.source.headers).map(([name, value]) => [name, resolveEnv(value)]));
  }

  private resolve(url: string, base?: string): URL {
    try {
      return new URL(url, base ?? this.source.baseUrl);
    } catch {
      throw new SourceError(this.id, 'bad_query', `'${url}' is not a valid URL${this.source.baseUrl ? '' : ' (relative URLs need baseUrl on the source)'}`);
    }
  }

  private async fetchJson(url: URL, init: { method: string; body?: unknown }, signal: AbortSignal): Promise<unknown> {
    const response = await fetch(url, {
      method: init.method,
      signal,
      headers: { accept: 'application/json', ...(init.body !== undefined && { 'content-type': 'application/json' }), ...this.headers },
      ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    });
    if (!response.ok) {
      const excerpt = (await response.text().catch(() => '')).slice(0, 200);
      throw new SourceError(this.id, 'failed', `HTTP ${response.status} from ${describe(url)}${excerpt ? `: ${excerpt}` : ''}`);
    }
    try {
      return await response.json();
    } catch {
      throw new SourceError(this.id, 'failed', `${describe(url)} did not answer with JSON`);
    }
  }

  async query(query: SourceQuery, signal: AbortSignal): Promise<Series[]> {
    assertOrganizationAllowed(this.id, this.source.organizations, query.organizationId);
    const spec = httpJsonMetricQuerySchema.parse(query.metric.query ?? {});
    const values = templateValues(query);
    let url: URL | undefined = this.resolve(fillUrl(spec.url, values));
    const body = spec.method === 'POST' ? fillBody(spec.body ?? {}, values) : undefined;
    const points: Point[] = [];
    for (let page = 1; url; page += 1) {
      if (page > spec.maxPages) {
        throw new SourceError(this.id, 'failed', `metric '${query.metric.key}': more than ${spec.maxPages} pages; narrow the range or raise maxPages`);
      }
      const json = await this.fetchJson(url, { method: spec.method, body }, signal);
      for (const item of read(spec.points, json)) points.push(this.toPoint(item, spec, query.metric.key));
      const next = spec.next ? read(spec.next, json)[0] : undefined;
      url = typeof next === 'string' && next !== '' ? this.resolve(next, url.toString()) : undefined;
    }
    return pointsToSeries(points, query);
  }

  private toPoint(item: unknown, spec: HttpJsonMetricQuery, metricKey: string): Point {
    const rawTime = read(spec.time, item)[0];
    const time = parseTime(rawTime, spec.timeFormat);
    if (time === undefined) {
      throw new SourceError(this.id, 'failed', `metric '${metricKey}': ${spec.time} gave ${JSON.stringify(rawTime) ?? 'nothing'}, which is not a time`);
    }
    const labels: Record<string, string> = {};
    for (const [dimension, path] of Object.entries(spec.labels)) {
      const raw = read(path, item)[0];
      if (raw !== undefined && raw !== null) labels[dimension] = String(raw);
    }
    return { time, value: spec.value ? parseValue(read(spec.value, item)[0]) : 1, labels };
  }

  async healthCheck(): Promise<HealthStatus> {
    if (!this.source.healthUrl) return { ok: true, detail: 'configured (no healthUrl to probe)' };
    const url = this.resolve(this.source.healthUrl);
    const response = await fetch(url, { headers: this.headers, signal: AbortSignal.timeout(10_000) });
    await response.body?.cancel();
    return response.ok ? { ok: true, detail: `HTTP ${response.status}` } : { ok: false, detail: `HTTP ${response.status} from ${describe(url)}` };
  }

  async close(): Promise<void> {}
}

export const httpJsonAdapterType: AdapterType<typeof httpJsonSourceSchema, typeof httpJsonMetricQuerySchema> = {
  type: 'http-json',
  sourceSchema: httpJsonSourceSchema,
  metricQuerySchema: httpJsonMetricQuerySchema,
  create: (source) => new HttpJsonAdapter(source),
};
