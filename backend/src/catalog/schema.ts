import { z } from 'zod';

/**
 * The metric catalog: sources and metrics as configuration. This file is the
 * single source of truth for what a catalog may say; types are inferred from it.
 * Source- and adapter-specific settings (a source's connection, a metric's
 * `query`) are validated by the adapter type that owns them.
 */
export const AGGREGATIONS = ['sum', 'count', 'avg', 'min', 'max', 'p50', 'p90', 'p95', 'p99', 'rate', 'distinct'] as const;
export const aggregationSchema = z.enum(AGGREGATIONS);
export type Aggregation = z.infer<typeof aggregationSchema>;

export const METRIC_KINDS = ['counter', 'gauge', 'distribution', 'ratio', 'distinct'] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];

/** What each kind can be asked for, and what a panel gets when it asks for nothing. */
export const KIND_AGGREGATIONS: Record<MetricKind, { allowed: Aggregation[]; default: Aggregation }> = {
  counter: { allowed: ['sum', 'count'], default: 'sum' },
  gauge: { allowed: ['sum', 'avg', 'min', 'max', 'count'], default: 'sum' },
  distribution: { allowed: ['avg', 'min', 'max', 'p50', 'p90', 'p95', 'p99', 'count', 'sum'], default: 'p95' },
  ratio: { allowed: ['rate'], default: 'rate' },
  /** How many different values of an event attribute (contacts, users): merged from sketches, never summed. */
  distinct: { allowed: ['distinct'], default: 'distinct' },
};

const identifier = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be lower_snake_case: a letter, then letters, digits or _ (max 63)');
const dimensionName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,62}$/, 'must start with a letter and contain only letters, digits or _');

export const SOURCE_TYPES = ['events', 'postgres', 'http-json', 'bigquery', 'salesforce', 'hubspot', 'system'] as const;

export const sourceSchema = z
  .object({
    id: identifier,
    type: z.enum(SOURCE_TYPES),
    label: z.string().min(1).optional(),
    description: z.string().default(''),
    /** Per-source query timeout; a slow source fails alone after this. */
    timeoutMs: z.number().int().positive().max(120_000).default(5_000),
    /** Cache TTL for this source's answers; external sources change slowly. */
    cacheTtlSeconds: z.number().int().positive().optional(),
    /** At most this many queries in flight against the source at once. */
    maxConcurrency: z.number().int().positive().optional(),
    /** The metric that stands for the source in "All sources" (default: its first counter, else its first metric that is not a ratio). */
    headline: identifier.optional(),
  })
  .passthrough();
export type CatalogSource = z.infer<typeof sourceSchema>;

export const metricSchema = z
  .object({
    key: identifier,
    label: z.string().min(1),
    description: z.string().default(''),
    /** A Grafana unit id: short, percentunit, ms, s, currencyUSD, h, ... */
    unit: z.string().min(1).default('short'),
    source: identifier,
    kind: z.enum(METRIC_KINDS),
    aggregations: z.array(aggregationSchema).min(1).optional(),
    defaultAggregation: aggregationSchema.optional(),
    dimensions: z.array(dimensionName).default([]),
    /** Adapter-specific: which events, which SQL, which JSON mapping. */
    query: z.record(z.string(), z.unknown()).optional(),
    /** Ratio metrics: rate = sum(numerator) / sum(denominator) over the same buckets. */
    numerator: identifier.optional(),
    denominator: identifier.optional(),
    /**
     * A level (open prospects, a balance), not a flow: the SQL returns the
     * state now, and its history, previous period and trend come from the
     * level snapshots Metrics Hub takes daily (levels/).
     */
    level: z.boolean().default(false),
    /** For KPI trend colours: is a rising value good news? */
    higherIsBetter: z.boolean().default(true),
    /** Anomaly rules, validated by the anomalies module. */
    rules: z.array(z.record(z.string(), z.unknown())).default([]),
  })
  .strict();

export const catalogFileSchema = z
  .object({
    version: z.literal(1).default(1),
    /** Another catalog file (relative path) whose sources and metrics this one starts from. */
    extends: z.string().min(1).optional(),
    sources: z.array(sourceSchema).min(1),
    metrics: z.array(metricSchema).default([]),
  })
  .strict();
export type CatalogFile = z.infer<typeof catalogFileSchema>;

/** A metric after catalog-level checks: aggregations resolved, source known. */
export interface CatalogMetric extends Omit<z.infer<typeof metricSchema>, 'aggregations' | 'defaultAggregation'> {
  aggregations: Aggregation[];
  defaultAggregation: Aggregation;
}
