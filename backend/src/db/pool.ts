import pg from 'pg';
import type { Logger } from '../logger.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// BIGINT (count columns) as JS numbers: rollup counts stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
// NUMERIC (sums of bigint) likewise; doubles are already numbers.
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));

export function createPool(connectionString: string, max: number, logger: Logger): Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'metrics-hub',
  });
  // pool.end() does not wait for its connections to close, so the embedded PostgreSQL stopping
  // right after may end a few of them: expected during shutdown, not worth a warning.
  const lost = (what: string) => (error: Error) =>
    pool.ending ? logger.debug({ err: error }, `${what} during shutdown`) : logger.warn({ err: error }, what);
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', lost('idle PostgreSQL connection lost'));
  // A checked-out client whose connection drops between two queries (database
  // restart mid-transaction) emits 'error' with no listener, which would crash
  // the process; with one, its next query fails and the pool discards it.
  pool.on('connect', (client) => client.on('error', lost('PostgreSQL connection lost while in use')));
  return pool;
}

/** Runs `work` in one transaction; rolls back on any error and rethrows it. */
export async function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
