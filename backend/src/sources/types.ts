import type { z } from 'zod';
import type { Aggregation, CatalogMetric, CatalogSource } from '../catalog/schema.js';
import type { AppContext } from '../context.js';
import type { WalPosition } from '../db/wal.js';

export const FILTER_OPS = ['eq', 'neq', 'in', 'not_in'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export interface Filter {
  dimension: string;
  op: FilterOp;
  /** A string for eq/neq, a list for in/not_in. */
  value: string | string[];
}

/**
 * One metric question to one source, already validated against the catalog:
 * the metric exists, the aggregation is allowed, every group-by and filter
 * dimension is declared on the metric. The organization always comes from the
 * API key; adapters must scope every read by it.
 */
export interface SourceQuery {
  organizationId: string;
  metric: CatalogMetric;
  /** Never `rate`: the query layer computes ratios from numerator and denominator sums. */
  aggregation: Exclude<Aggregation, 'rate'>;
  groupBy: string[];
  filters: Filter[];
  /** Half-open range [from, to). */
  from: Date;
  to: Date;
  /** Bucket width; buckets start at `from` aligned down to a multiple of it (UTC). */
  bucketMs: number;
  /**
   * The organization's newest write (WAL position): a read replica may answer
   * only once it has replayed this far. Unset: read from the primary.
   */
  readAfter?: WalPosition | undefined;
  /**
   * Questions carrying the same token were asked together (one request's
   * answers): a source may answer them in one round trip (events-batch.ts).
   * Not part of the question: never in a cache key.
   */
  batch?: object | undefined;
}

/**
 * A `format: list` question: the newest raw events a metric counts (its event
 * types and fixed `where`), filtered like any query, newest first.
 */
export interface ListQuery {
  organizationId: string;
  metric: CatalogMetric;
  filters: Filter[];
  from: Date;
  to: Date;
  /** 1..1000. */
  limit: number;
  /** Event attributes (or derived dimensions) to return, in this order. */
  columns: string[];
  /** As SourceQuery.readAfter. */
  readAfter?: WalPosition | undefined;
}

/** One listed event; `columns` follows ListQuery.columns (null where the event lacks the attribute). */
export interface ListRow {
  time: number;
  type: string;
  value: number | null;
  columns: Array<string | null>;
}

/** One series: labels are the group-by values; times are bucket starts (epoch ms), ascending. */
export interface Series {
  labels: Record<string, string>;
  times: number[];
  values: Array<number | null>;
}

export interface HealthStatus {
  ok: boolean;
  detail: string;
}

/** The contract every data source implements (one file per type in sources/adapters/). */
export interface SourceAdapter {
  readonly id: string;
  readonly type: string;
  initialize(): Promise<void>;
  query(query: SourceQuery, signal: AbortSignal): Promise<Series[]>;
  /**
   * The metric over exactly [from, to), to the millisecond, as one point per series (the
   * `rolling` query option); only sources that keep raw events implement it.
   */
  window?(query: SourceQuery, signal: AbortSignal): Promise<Series[]>;
  /** Lists raw events (format: list); only sources that keep events implement it. */
  list?(query: ListQuery, signal: AbortSignal): Promise<ListRow[]>;
  /**
   * How many series `query` would answer, counted up to `limit` without
   * reading its buckets (answer budgets, issue 23). Sources that cannot tell
   * cheaply leave it out and are checked on their actual answer.
   */
  estimateSeries?(query: SourceQuery, limit: number, signal: AbortSignal): Promise<number>;
  healthCheck(): Promise<HealthStatus>;
  close(): Promise<void>;
}

/** How a source type is registered: its settings and metric-query schemas and a constructor. */
export interface AdapterType<TSource extends z.ZodType = z.ZodType, TMetricQuery extends z.ZodType = z.ZodType> {
  type: CatalogSource['type'];
  /** Validates the source entry's type-specific fields (connection, url, credentials). */
  sourceSchema: TSource;
  /** Validates each metric's `query` block for this source type. */
  metricQuerySchema: TMetricQuery;
  /** Checks of a metric that need its source's settings (e.g. tenant filtering); paths are relative to the metric's `query`. */
  checkMetric?(source: z.infer<TSource>, metric: CatalogMetric): Array<{ path: PropertyKey[]; message: string }>;
  create(source: z.infer<TSource>, context: AppContext): SourceAdapter;
}
