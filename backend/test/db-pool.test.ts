import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import express from 'express';
import { errorHandler } from '../src/http/errors.js';
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
  const failure = await client.query('SELECT 1').then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(failure instanceof Error);
  client.release(true);

  // Such a failure is the database being unavailable: 503 with a retry hint, not a 500.
  const app = express();
  app.get('/', () => {
    throw failure;
  });
  app.use(errorHandler(createLogger('silent')));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  server.close();
  assert.equal(response.status, 503);
  assert.equal(response.headers.get('retry-after'), '2');
  const again = await pool.query<{ one: number }>('SELECT 1 AS one');
  assert.equal(again.rows[0]!.one, 1);
});
