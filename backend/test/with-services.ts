/**
 * Runs a command (the test runner) with a real PostgreSQL and Redis:
 * DATABASE_URL / REDIS_URL when set (CI sets both), otherwise an embedded
 * PostgreSQL and a `redis-server` from PATH on free ports, stopped afterwards.
 * Usage: node --import tsx test/with-services.ts <command> [args...]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { createLogger } from '../src/logger.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function startRedis(): Promise<{ url: string; process: ChildProcess }> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error('tests need a real Redis: set REDIS_URL, or install redis-server (Debian: apt-get install -y redis-server; or run bash .ci/run)');
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const ready = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ready) return { url: `redis://127.0.0.1:${port}/0`, process: child };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  throw new Error(`redis-server did not start on port ${port}`);
}

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: with-services.ts <command> [args...]');
  process.exit(2);
}

const logger = createLogger('warn');
const cleanups: Array<() => Promise<void>> = [];
const env = { ...process.env };
let exitCode = 1;
try {
  if (!env.DATABASE_URL) {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-test-pg-'));
    console.error(`DATABASE_URL not set: starting an embedded PostgreSQL in ${dataDir}`);
    const database = await startEmbeddedPostgres(dataDir, logger);
    env.DATABASE_URL = database.url;
    cleanups.push(async () => {
      await database.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    });
  }
  if (!env.REDIS_URL) {
    const redis = await startRedis();
    console.error(`REDIS_URL not set: started redis-server at ${redis.url}`);
    env.REDIS_URL = redis.url;
    cleanups.push(async () => {
      redis.process.kill();
    });
  }
  exitCode = await new Promise<number>((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', env });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
}
process.exit(exitCode);
