import pLimit, { type LimitFunction } from 'p-limit';
import { Counter, Histogram } from 'prom-client';
import type { Catalog } from '../catalog/load.js';
import { CatalogError, problemAt, type CatalogProblem } from '../catalog/load.js';
import type { CatalogSource } from '../catalog/schema.js';
import type { AppContext } from '../context.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { isInputRejection, SourceError } from './errors.js';
import type { AdapterType, HealthStatus, ListQuery, ListRow, Series, SourceAdapter, SourceQuery } from './types.js';

export type SourceState = 'up' | 'down' | 'initializing';

/** What operators see: `degraded` is up but with failed queries in the recent window. */
export type SourceHealth = 'up' | 'degraded' | 'down';

/** How far back the operators' view of a source looks (latency percentiles, degraded). */
export const RECENT_WINDOW_MS = 15 * 60_000;
/** Enough samples for stable percentiles; the oldest go first beyond this. */
const MAX_RECENT_SAMPLES = 10_000;

export interface SourceActivity {
  id: string;
  type: string;
  label: string;
  status: SourceHealth;
  state: SourceState;
  lastSuccessAt: string | null;
  lastErrorAt: string | null;
  lastError: string | null;
  /** Query latency over the last 15 minutes; null without queries. */
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  queries: number;
  failures: number;
  cacheTtlSeconds: number;
}

interface Sample {
  at: number;
  ms: number;
  ok: boolean;
}

export interface SourceStatus {
  id: string;
  type: string;
  label: string;
  status: SourceState;
  lastError: string | null;
  /** When the source last answered a query or a health check (null: never since start). */
  lastSuccessAt: string | null;
  latencyMs: number | null;
  checkedAt: string | null;
}

interface Entry {
  source: CatalogSource;
  adapter: SourceAdapter;
  state: SourceState;
  lastError: string | null;
  lastSuccessAt: Date | null;
  latencyMs: number | null;
  checkedAt: Date | null;
  limit: LimitFunction | undefined;
  initializing: Promise<void> | undefined;
  lastErrorAt: Date | null;
  recent: Sample[];
}

const EXTERNAL_DEFAULT_TTL_SECONDS = 300;
const RETRY_INIT_MS = 30_000;

/**
 * Every data source of the catalog behind one small API. Each source answers
 * under its own timeout and concurrency limit; a source that fails to start is
 * marked down with its reason and retried in the background, and its failures
 * reach only its own queries.
 */
export class SourceRegistry {
  private readonly entries = new Map<string, Entry>();
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly latency: Histogram<'source' | 'outcome'>;
  private readonly failures: Counter<'source' | 'reason'>;

  private constructor(
    private readonly context: AppContext,
    private readonly defaultCacheTtlSeconds: number,
  ) {
    const registry = context.metrics.registry;
    this.latency =
      (registry.getSingleMetric('metricshub_source_query_duration_seconds') as Histogram<'source' | 'outcome'> | undefined) ??
      new Histogram({
        name: 'metricshub_source_query_duration_seconds',
        help: 'Source query latency by source and outcome',
        labelNames: ['source', 'outcome'],
        buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      });
    this.failures =
      (registry.getSingleMetric('metricshub_source_errors_total') as Counter<'source' | 'reason'> | undefined) ??
      new Counter({ name: 'metricshub_source_errors_total', help: 'Source query failures by source and reason', labelNames: ['source', 'reason'], registers: [registry] });
  }

  /**
   * Validates each source's type-specific settings (throwing CatalogError with
   * file and path), then initializes all sources in parallel. A source whose
   * initialization fails is down, not fatal.
   */
  static async create(catalog: Catalog, context: AppContext, types: ReadonlyArray<AdapterType>): Promise<SourceRegistry> {
    const registry = new SourceRegistry(context, context.config.CACHE_TTL_SECONDS);
    const byType = new Map(types.map((type) => [type.type, type]));
    const problems: CatalogProblem[] = [];
    catalog.sources.forEach((source, index) => {
      const type = byType.get(source.type);
      if (!type) {
        problems.push(problemAt(catalog, ['sources', index, 'type'], `no adapter is registered for type '${source.type}'`));
        return;
      }
      const settings = type.sourceSchema.safeParse(source);
      if (!settings.success) {
        for (const issue of settings.error.issues) problems.push(problemAt(catalog, ['sources', index, ...issue.path], issue.message));
        return;
      }
      catalog.metrics.forEach((metric, metricIndex) => {
        if (metric.source !== source.id || metric.kind === 'ratio') return;
        const query = type.metricQuerySchema.safeParse(metric.query ?? {});
        if (!query.success) {
          for (const issue of query.error.issues) problems.push(problemAt(catalog, ['metrics', metricIndex, 'query', ...issue.path], issue.message));
          return;
        }
        for (const problem of type.checkMetric?.(settings.data, metric) ?? []) {
          problems.push(problemAt(catalog, ['metrics', metricIndex, 'query', ...problem.path], problem.message));
        }
      });
      if (problems.length > 0) return;
      registry.entries.set(source.id, {
        source,
        adapter: type.create(settings.data, context),
        state: 'initializing',
        lastError: null,
        lastSuccessAt: null,
        latencyMs: null,
        checkedAt: null,
        limit: source.maxConcurrency ? pLimit(source.maxConcurrency) : undefined,
        initializing: undefined,
        lastErrorAt: null,
        recent: [],
      });
    });
    if (problems.length > 0) throw new CatalogError(catalog.file, problems);
    await Promise.all([...registry.entries.values()].map((entry) => registry.initialize(entry)));
    registry.retryTimer = setInterval(() => registry.retryDown(), RETRY_INIT_MS);
    registry.retryTimer.unref();
    return registry;
  }

  private initialize(entry: Entry): Promise<void> {
    entry.initializing ??= (async () => {
      const started = performance.now();
      try {
        await withTimeout(entry.adapter.initialize(), entry.source.timeoutMs, `initialization took longer than ${entry.source.timeoutMs} ms`);
        entry.state = 'up';
        entry.lastError = null;
      } catch (error) {
        entry.state = 'down';
        entry.lastError = errorMessage(error);
        this.context.logger.warn({ source: entry.source.id, reason: entry.lastError }, 'source failed to initialize; will retry');
      } finally {
        entry.latencyMs = Math.round(performance.now() - started);
        entry.checkedAt = new Date();
        entry.initializing = undefined;
      }
    })();
    return entry.initializing;
  }

  private retryDown(): void {
    for (const entry of this.entries.values()) if (entry.state === 'down') void this.initialize(entry);
  }

  has(sourceId: string): boolean {
    return this.entries.has(sourceId);
  }

  /** Cache TTL for a source's answers: its own setting, else 45 s for events and 5 min for external sources. */
  cacheTtlSeconds(sourceId: string): number {
    const entry = this.entries.get(sourceId);
    if (!entry) return this.defaultCacheTtlSeconds;
    return entry.source.cacheTtlSeconds ?? (entry.source.type === 'events' ? this.defaultCacheTtlSeconds : EXTERNAL_DEFAULT_TTL_SECONDS);
  }

  /**
   * Runs one query on one source under the source's timeout and concurrency
   * limit. Rejects with a SourceError; never affects other sources.
   */
  async query(sourceId: string, query: SourceQuery): Promise<Series[]> {
    return this.run(sourceId, (adapter, signal) => adapter.query(query, signal));
  }

  /** A rolling window of a metric (exact [from, to)), under the same timeout and limit as its queries. */
  async window(sourceId: string, query: SourceQuery): Promise<Series[]> {
    return this.run(sourceId, (adapter, signal) => {
      if (!adapter.window) throw new SourceError(sourceId, 'bad_query', `source '${sourceId}' (${adapter.type}) keeps no raw events, so it has no rolling window; turn off rolling to read its buckets`);
      return adapter.window(query, signal);
    });
  }

  /** Lists raw events of a metric (format: list), under the same timeout and limit as its queries. */
  async list(sourceId: string, query: ListQuery): Promise<ListRow[]> {
    return this.run(sourceId, (adapter, signal) => {
      if (!adapter.list) throw new SourceError(sourceId, 'bad_query', `source '${sourceId}' (${adapter.type}) keeps no events to list; format 'list' needs a metric of an events source`);
      return adapter.list(query, signal);
    });
  }

  /**
   * How many series a query would answer, up to `limit`, when the source can
   * tell without reading its buckets; undefined when it cannot.
   */
  async estimateSeries(sourceId: string, query: SourceQuery, limit: number): Promise<number | undefined> {
    const adapter = this.entries.get(sourceId)?.adapter;
    if (!adapter?.estimateSeries) return undefined;
    return this.run(sourceId, (one, signal) => one.estimateSeries!(query, limit, signal));
  }

  private async run<T>(sourceId: string, work: (adapter: SourceAdapter, signal: AbortSignal) => Promise<T>): Promise<T> {
    const entry = this.entries.get(sourceId);
    if (!entry) throw new SourceError(sourceId, 'bad_query', `source '${sourceId}' is not in the catalog`);
    if (entry.state !== 'up') {
      throw new SourceError(sourceId, 'unavailable', `source '${sourceId}' is down: ${entry.lastError ?? 'initializing'}`);
    }
    const run = async () => {
      const controller = new AbortController();
      const started = performance.now();
      let outcome = 'ok';
      try {
        const answer = await withTimeout(
          work(entry.adapter, controller.signal),
          entry.source.timeoutMs,
          `source '${sourceId}' did not answer within ${entry.source.timeoutMs} ms`,
          () => controller.abort(),
        );
        entry.lastSuccessAt = new Date();
        return answer;
      } catch (error) {
        const failure = classifyFailure(sourceId, error);
        outcome = failure.failure;
        // A question the request itself made unanswerable is that request's error, not the source's:
        // it must not show in every organization's /catalog, /summary or the source error counters.
        if (failure.failure !== 'bad_query') {
          this.failures.inc({ source: sourceId, reason: failure.failure });
          entry.lastError = failure.message;
          entry.lastErrorAt = new Date();
        }
        throw failure;
      } finally {
        const ms = performance.now() - started;
        this.latency.observe({ source: sourceId, outcome }, ms / 1000);
        recordSample(entry.recent, { at: Date.now(), ms, ok: outcome === 'ok' || outcome === 'bad_query' });
      }
    };
    return entry.limit ? entry.limit(run) : run();
  }

  /** Runs each source's health check in parallel, each under its timeout. */
  async checkHealth(): Promise<SourceStatus[]> {
    await Promise.all(
      [...this.entries.values()].map(async (entry) => {
        if (entry.state !== 'up') return;
        const started = performance.now();
        const result: HealthStatus = await withTimeout(entry.adapter.healthCheck(), entry.source.timeoutMs, `health check took longer than ${entry.source.timeoutMs} ms`).catch(
          (error: unknown) => ({ ok: false, detail: errorMessage(error) }),
        );
        entry.latencyMs = Math.round(performance.now() - started);
        entry.checkedAt = new Date();
        entry.lastError = result.ok ? null : result.detail;
        if (result.ok) entry.lastSuccessAt = entry.checkedAt;
        // A failed probe marks the source down; the retry loop re-initializes it.
        if (!result.ok) {
          entry.state = 'down';
          entry.lastErrorAt = new Date();
        }
      }),
    );
    return this.status();
  }

  /** Last known state of every source, without probing them. */
  status(): SourceStatus[] {
    return [...this.entries.values()].map((entry) => ({
      id: entry.source.id,
      type: entry.source.type,
      label: entry.source.label ?? entry.source.id,
      status: entry.state,
      lastError: entry.lastError,
      lastSuccessAt: entry.lastSuccessAt?.toISOString() ?? null,
      latencyMs: entry.latencyMs,
      checkedAt: entry.checkedAt?.toISOString() ?? null,
    }));
  }

  /** The operators' view of every source: health, last success and error, recent latency, cache TTL. */
  activity(now = Date.now()): SourceActivity[] {
    return [...this.entries.values()].map((entry) => {
      const recent = entry.recent.filter((sample) => sample.at > now - RECENT_WINDOW_MS);
      const failures = recent.filter((sample) => !sample.ok).length;
      const latencies = recent.map((sample) => sample.ms).sort((a, b) => a - b);
      return {
        id: entry.source.id,
        type: entry.source.type,
        label: entry.source.label ?? entry.source.id,
        status: entry.state !== 'up' ? 'down' : failures > 0 ? 'degraded' : 'up',
        state: entry.state,
        lastSuccessAt: entry.lastSuccessAt?.toISOString() ?? null,
        lastErrorAt: entry.lastErrorAt?.toISOString() ?? null,
        lastError: entry.lastError,
        latencyP50Ms: percentile(latencies, 0.5),
        latencyP95Ms: percentile(latencies, 0.95),
        queries: recent.length,
        failures,
        cacheTtlSeconds: this.cacheTtlSeconds(entry.source.id),
      };
    });
  }

  async close(): Promise<void> {
    clearInterval(this.retryTimer);
    await Promise.allSettled([...this.entries.values()].map((entry) => entry.adapter.close()));
  }
}

class TimeoutError extends Error {}

/** Appends a sample, dropping those past the window (or the oldest beyond the cap). */
function recordSample(samples: Sample[], sample: Sample): void {
  samples.push(sample);
  const horizon = sample.at - RECENT_WINDOW_MS;
  let stale = 0;
  while (stale < samples.length && (samples[stale]!.at <= horizon || samples.length - stale > MAX_RECENT_SAMPLES)) stale += 1;
  if (stale > 0) samples.splice(0, stale);
}

/** Nearest-rank percentile of sorted values, rounded to 0.1 ms. */
function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const value = sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return Math.round(value * 10) / 10;
}

function classifyFailure(sourceId: string, error: unknown): SourceError {
  if (error instanceof SourceError) return error;
  if (error instanceof TimeoutError) return new SourceError(sourceId, 'timeout', error.message);
  if (isInputRejection(error)) return new SourceError(sourceId, 'bad_query', `source '${sourceId}' cannot answer this question: ${errorMessage(error)}`);
  // Its database down or failing over: retry shortly (503), not a failure of the question (502).
  if (isDatabaseUnavailable(error)) return new SourceError(sourceId, 'unavailable', `source '${sourceId}' is unavailable: ${errorMessage(error)}; retry shortly`);
  return new SourceError(sourceId, 'failed', `source '${sourceId}' failed: ${errorMessage(error)}`);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Races a promise against a timer; `onTimeout` lets the caller abort the losing work. */
async function withTimeout<T>(work: Promise<T>, ms: number, message: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new TimeoutError(message));
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
