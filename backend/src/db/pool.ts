import pg from 'pg';
import type { Logger } from '../logger.js';
import { serverUrls } from './hosts.js';
import { PrimaryLocator, primaryPool } from './primary.js';
import { CURRENT_WAL_POSITION_SQL, parseLsn, type WalPosition } from './wal.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// BIGINT (count columns) as JS numbers: rollup counts stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
// NUMERIC (sums of bigint) likewise; doubles are already numbers.
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));

/**
 * A pool on one server, or on the primary among several: a libpq-style
 * multi-host URL (`postgres://u:p@h1:5432,h2:5432/db`) makes every new
 * connection go to the server found to be the primary (db/primary.ts), so the
 * pool follows a failover by itself.
 */
export function createPool(connectionString: string, max: number, logger: Logger): Pool {
  const servers = serverUrls(connectionString);
  const options = { max, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000, application_name: 'metrics-hub' };
  const pool =
    servers.length === 1
      ? new pg.Pool({ ...options, connectionString: servers[0] })
      : primaryPool(options, new PrimaryLocator(servers, logger));
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
  return (await transaction(pool, work, async (client) => void (await client.query('COMMIT')))).result;
}

/**
 * `withTransaction`, also returning where the primary's WAL stood once the
 * COMMIT returned: a standby that replayed that far sees the transaction.
 * COMMIT and the position travel in one round trip.
 */
export async function withTransactionAt<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<{ result: T; position: WalPosition }> {
  const { result, position } = await withTransactionEndingIn(pool, async (client) => ({ result: await work(client) }));
  return { result, position };
}

/**
 * `withTransactionAt`, where `work` may also return its last statement as text
 * (simple query protocol: no parameters), sent in the COMMIT's round trip: the
 * locks it takes are held until the commit, not also while the answer travels
 * back to a busy Node thread and the COMMIT travels out (ingest/store.ts).
 */
export async function withTransactionEndingIn<T>(pool: Pool, work: (client: PoolClient) => Promise<{ result: T; last?: string }>): Promise<{ result: T; position: WalPosition }> {
  const { result, committed } = await transaction(pool, work, async (client, { last }) => {
    const answers = (await client.query(`${last === undefined ? '' : `${last};\n`}COMMIT; ${CURRENT_WAL_POSITION_SQL}`)) as unknown as Array<pg.QueryResult<{ lsn: string }>>;
    return parseLsn(answers.at(-1)!.rows[0]!.lsn);
  });
  return { result: result.result, position: committed };
}

async function transaction<T, C>(pool: Pool, work: (client: PoolClient) => Promise<T>, commit: (client: PoolClient, result: T) => Promise<C>): Promise<{ result: T; committed: C }> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    return { result, committed: await commit(client, result) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Where the primary's WAL ends now (see wal.ts). */
export async function currentWalPosition(pool: Pool): Promise<WalPosition> {
  const { rows } = await pool.query<{ lsn: string }>(CURRENT_WAL_POSITION_SQL);
  return parseLsn(rows[0]!.lsn);
}
