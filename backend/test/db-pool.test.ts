import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { createPool, type Pool } from '../src/db/pool.js';
import { createLogger } from '../src/logger.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';

let database: TestDatabase;
let pool: Pool;

before(async () => {
  database = await createTestDatabase('db_pool');
  pool = createPool(database.url, 4, createLogger('silent'));
});
after(async () => {
  await pool?.end();
  await database?.drop();
});

test('a connection terminated while checked out between queries does not crash the process; the pool recovers', async () => {
  const client = await pool.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  // What a PostgreSQL restart does to every session: FATAL 57P01, while this client runs no query.
  // Without a listener of the pool's own, the client's 'error' event would be an uncaught exception here.
  await pool.query('SELECT pg_terminate_backend($1, 5000)', [rows[0]!.pid]);
  const socket = (client as unknown as { connection: { stream: import('node:net').Socket } }).connection.stream;
  if (!socket.closed) await once(socket, 'close');
  await assert.rejects(client.query('SELECT 1'));
  client.release(true);
  const again = await pool.query<{ one: number }>('SELECT 1 AS one');
  assert.equal(again.rows[0]!.one, 1);
});
