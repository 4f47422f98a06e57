import type { Socket } from 'node:net';
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
 *
 * With the Redis connection's socket (`redisSocket`), the waits inside two of
 * those steps are timed at the sockets too: the lookup's Redis round trip
 * (its script written to the socket until the first byte of its reply), and
 * PostgreSQL's (the statement written until the first byte of its rows), the
 * rest of each step being Node's own work (bench/README.md, issue 20, step 17).
 */
export function stepTimer(redisSocket?: Socket) {
  const names = ['lookup (planning, cache key, Redis)', 'to the SQL statement', 'SQL (PostgreSQL, receiving rows)', 'after the rows (merge, frames)'] as const;
  const samples = names.map(() => [] as number[]);
  const waitNames = ['of the lookup: Redis, script written to first byte of its reply', 'of the SQL: PostgreSQL, statement written to first byte of its rows'] as const;
  const waits = waitNames.map(() => [] as number[]);
  let marks: number[] = [];
  /** Socket times of the answer being timed: Redis written, Redis replied, PostgreSQL written, PostgreSQL replied. */
  let sockets: Array<number | undefined> = [];
  const lookupText = QueryCache.prototype.lookupText;
  const query = pg.Client.prototype.query;
  const now = () => performance.now();
  const first = (slot: number, after?: number) => () => {
    if (sockets[slot] === undefined && (after === undefined || sockets[after] !== undefined)) sockets[slot] = now();
  };
  const undo: Array<() => void> = [];
  /** Marks `written` at the socket's first write of the answer and `replied` at its first data after that. */
  const watch = (socket: Socket, written: number, replied: number) => {
    const write = socket.write;
    const wrote = first(written);
    socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
      wrote();
      return write.apply(this, args);
    } as Socket['write'];
    const onData = first(replied, written);
    socket.on('data', onData);
    undo.push(() => {
      socket.write = write;
      socket.off('data', onData);
    });
  };
  if (redisSocket) watch(redisSocket, 0, 1);
  const watched = new WeakSet<object>();
  QueryCache.prototype.lookupText = async function (this: QueryCache, ...args: Parameters<QueryCache['lookupText']>) {
    try {
      return await lookupText.apply(this, args);
    } finally {
      marks[1] = now();
    }
  };
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    marks[2] = now();
    // node-pg's socket, watched from its first statement on (one per pooled connection).
    const socket = redisSocket && (this as unknown as { connection?: { stream?: Socket } }).connection?.stream;
    if (socket && !watched.has(socket)) {
      watched.add(socket);
      watch(socket, 2, 3);
    }
    const result = (query as (...a: unknown[]) => unknown).apply(this, args);
    if (result instanceof Promise) void result.finally(() => (marks[3] = now())).catch(() => undefined);
    return result;
  } as typeof query;
  return {
    start(at: number) {
      marks = [at];
      sockets = [];
    },
    end(at: number) {
      // An answer that sent no statement (or was found stored) has no SQL steps: counted only when all marks are set.
      if (marks.length < 4 || marks.some((mark) => mark === undefined)) return;
      const points = [...marks, at];
      for (let step = 0; step < names.length; step += 1) samples[step]!.push(points[step + 1]! - points[step]!);
      const [redisWritten, redisReplied, sqlWritten, sqlReplied] = sockets;
      if (redisWritten !== undefined && redisReplied !== undefined) waits[0]!.push(redisReplied - redisWritten);
      if (sqlWritten !== undefined && sqlReplied !== undefined) waits[1]!.push(sqlReplied - sqlWritten);
    },
    stop() {
      QueryCache.prototype.lookupText = lookupText;
      pg.Client.prototype.query = query;
      for (const restore of undo.splice(0)) restore();
    },
    report(): string {
      const p50 = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? NaN;
      const lines = names.map((name, step) => `  ${name}: p50 ${p50(samples[step]!).toFixed(3)} ms (${samples[step]!.length} answers)`);
      waitNames.forEach((name, index) => waits[index]!.length > 0 && lines.push(`    ${name}: p50 ${p50(waits[index]!).toFixed(3)} ms`));
      return lines.join('\n');
    },
  };
}
