import pLimit, { type LimitFunction } from 'p-limit';
import { Counter, Histogram } from 'prom-client';
import type { Catalog } from '../catalog/load.js';
import { CatalogError, formatPath } from '../catalog/load.js';
import type { CatalogSource } from '../catalog/schema.js';
import type { AppContext } from '../context.js';
import { isInputRejection, SourceError } from './errors.js';
import type { AdapterType, HealthStatus, Series, SourceAdapter, SourceQuery } from './types.js';

export type SourceState = 'up' | 'down' | 'initializing';

export interface SourceStatus {
  id: string;
  type: string;
  label: string;
  status: SourceState;
  lastError: string | null;
  latencyMs: number | null;
  checkedAt: string | null;
}

interface Entry {
  source: CatalogSource;
  adapter: SourceAdapter;
  state: SourceState;
  lastError: string | null;
  latencyMs: number | null;
  checkedAt: Date | null;
  limit: LimitFunction | undefined;
  initializing: Promise<void> | undefined;
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
    const problems: Array<{ path: string; message: string }> = [];
    catalog.sources.forEach((source, index) => {
      const type = byType.get(source.type);
      if (!type) {
        problems.push({ path: formatPath(['sources', index, 'type']), message: `no adapter is registered for type '${source.type}'` });
        return;
      }
      const settings = type.sourceSchema.safeParse(source);
      if (!settings.success) {
        for (const issue of settings.error.issues) problems.push({ path: formatPath(['sources', index, ...issue.path]), message: issue.message });
        return;
      }
      catalog.metrics.forEach((metric, metricIndex) => {
        if (metric.source !== source.id || metric.kind === 'ratio') return;
        const query = type.metricQuerySchema.safeParse(metric.query ?? {});
        if (!query.success) {
          for (const issue of query.error.issues) problems.push({ path: formatPath(['metrics', metricIndex, 'query', ...issue.path]), message: issue.message });
        }
      });
      if (problems.length > 0) return;
      registry.entries.set(source.id, {
        source,
        adapter: type.create(settings.data, context),
        state: 'initializing',
        lastError: null,
        latencyMs: null,
        checkedAt: null,
        limit: source.maxConcurrency ? pLimit(source.maxConcurrency) : undefined,
        initializing: undefined,
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
    return this.call(sourceId, (adapter, signal) => adapter.query(query, signal));
  }

  /**
   * How many series a query would answer, up to `limit`, when the source can
   * tell without reading its buckets; undefined when it cannot.
   */
  async estimateSeries(sourceId: string, query: SourceQuery, limit: number): Promise<number | undefined> {
    const adapter = this.entries.get(sourceId)?.adapter;
    if (!adapter?.estimateSeries) return undefined;
    return this.call(sourceId, (one, signal) => one.estimateSeries!(query, limit, signal));
  }

  private async call<T>(sourceId: string, work: (adapter: SourceAdapter, signal: AbortSignal) => Promise<T>): Promise<T> {
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
        return await withTimeout(work(entry.adapter, controller.signal), entry.source.timeoutMs, `source '${sourceId}' did not answer within ${entry.source.timeoutMs} ms`, () => controller.abort());
      } catch (error) {
        const failure = classifyFailure(sourceId, error);
        outcome = failure.failure;
        // A question the request itself made unanswerable is that request's error, not the source's:
        // it must not show in every organization's /catalog, /summary or the source error counters.
        if (failure.failure !== 'bad_query') {
          this.failures.inc({ source: sourceId, reason: failure.failure });
          entry.lastError = failure.message;
        }
        throw failure;
      } finally {
        this.latency.observe({ source: sourceId, outcome }, (performance.now() - started) / 1000);
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
        // A failed probe marks the source down; the retry loop re-initializes it.
        if (!result.ok) entry.state = 'down';
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
      latencyMs: entry.latencyMs,
      checkedAt: entry.checkedAt?.toISOString() ?? null,
    }));
  }

  async close(): Promise<void> {
    clearInterval(this.retryTimer);
    await Promise.allSettled([...this.entries.values()].map((entry) => entry.adapter.close()));
  }
}

class TimeoutError extends Error {}

function classifyFailure(sourceId: string, error: unknown): SourceError {
  if (error instanceof SourceError) return error;
  if (error instanceof TimeoutError) return new SourceError(sourceId, 'timeout', error.message);
  if (isInputRejection(error)) return new SourceError(sourceId, 'bad_query', `source '${sourceId}' cannot answer this question: ${errorMessage(error)}`);
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
