import pg from 'pg';
import { QueryCache } from '../../backend/src/cache/query-cache.js';

/**
 * Where a cold answer's wall time goes, seen from outside the query service:
 * the stored-answer lookup (`QueryCache.lookupText`: planning is before it,
 * and its Redis round trip), the way to the SQL statement (budget, source
 * registry, pool checkout, SQL text), the statement (PostgreSQL and receiving
 * its rows), and what follows until the answer returns (merging rows into
 * series, frames, serializing). For one question answered one at a time: the
 * marks of concurrent answers would interleave.
 */
export function stepTimer() {
  const names = ['lookup (planning, cache key, Redis)', 'to the SQL statement', 'SQL (PostgreSQL, receiving rows)', 'after the rows (merge, frames)'] as const;
  const samples = names.map(() => [] as number[]);
  let marks: number[] = [];
  const lookupText = QueryCache.prototype.lookupText;
  const query = pg.Client.prototype.query;
  QueryCache.prototype.lookupText = async function (this: QueryCache, ...args: Parameters<QueryCache['lookupText']>) {
    try {
      return await lookupText.apply(this, args);
    } finally {
      marks[1] = performance.now();
    }
  };
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    marks[2] = performance.now();
    const result = (query as (...a: unknown[]) => unknown).apply(this, args);
    if (result instanceof Promise) void result.finally(() => (marks[3] = performance.now())).catch(() => undefined);
    return result;
  } as typeof query;
  return {
    start(at: number) {
      marks = [at];
    },
    end(at: number) {
      // An answer that sent no statement (or was found stored) has no SQL steps: counted only when all marks are set.
      if (marks.length < 4 || marks.some((mark) => mark === undefined)) return;
      const points = [...marks, at];
      for (let step = 0; step < names.length; step += 1) samples[step]!.push(points[step + 1]! - points[step]!);
    },
    stop() {
      QueryCache.prototype.lookupText = lookupText;
      pg.Client.prototype.query = query;
    },
    report(): string {
      const p50 = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? NaN;
      return names.map((name, step) => `  ${name}: p50 ${p50(samples[step]!).toFixed(3)} ms (${samples[step]!.length} answers)`).join('\n');
    },
  };
}
