import type { Redis } from 'ioredis';
import pg from 'pg';

/** Records the name of every command the client sends (what goes over the wire, not what a script runs inside Redis). */
export function recordCommands(redis: Redis): { sent: string[]; restore: () => void } {
  const sent: string[] = [];
  const original = redis.sendCommand;
  redis.sendCommand = function (this: Redis, command, stream) {
    sent.push(command.name);
    return original.call(this, command, stream);
  } as typeof original;
  return { sent, restore: () => void (redis.sendCommand = original) };
}

/** Counts the SQL statements that read rollups (answers and series estimates), across every pg client of the process. */
export function countRollupReads(): { count: () => number; restore: () => void } {
  const original = pg.Client.prototype.query;
  let count = 0;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
    if (text && /FROM (rollups|rollup_totals)_(hourly|daily)/.test(text)) count += 1;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return { count: () => count, restore: () => void (pg.Client.prototype.query = original) };
}
