import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApiKey, createOrganization } from '../../src/auth/keys.js';
import type { Scope } from '../../src/auth/scopes.js';
import { loadConfig, type AppConfig } from '../../src/config/env.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from './databases.js';

export interface TestServer {
  running: RunningServer;
  database: TestDatabase;
  baseUrl: string;
  /** Creates an organization (if new) and returns a fresh API key for it (admin unless a scope is given). */
  keyFor(organization: string, scope?: Scope): Promise<string>;
  /** fetch against the server with an optional API key. */
  request(path: string, init?: RequestInit & { key?: string; json?: unknown }): Promise<Response>;
  stop(): Promise<void>;
}

/**
 * Starts the real service (real PostgreSQL, real Redis when `redisUrl` is
 * given) on a free port with a fresh database and data folder, exactly as `serve` does.
 * The alert scheduler ticks once a day unless a test sets
 * ALERT_EVALUATION_INTERVAL_SECONDS: tests drive evaluation with `runNow` at
 * chosen times, and a real-time tick in between would record a newer
 * evaluation, after which the evaluator skips the older hours a test replays.
 */
export async function startTestServer(label: string, env: Record<string, string | undefined> = {}): Promise<TestServer> {
  const database = await createTestDatabase(label);
  // A data folder of its own unless the test gives one: never the checkout's .metrics-hub/ (a user's data, shared by every run).
  const ownDataDir = env.DATA_DIR ? undefined : await fs.mkdtemp(path.join(os.tmpdir(), 'mh-test-data-'));
  const config: AppConfig = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    ALERT_EVALUATION_INTERVAL_SECONDS: String(24 * 60 * 60),
    ...env,
    DATA_DIR: env.DATA_DIR ?? ownDataDir,
    DATABASE_URL: database.url,
  });
  const removeOwnData = async () => {
    await database.drop();
    if (ownDataDir) await fs.rm(ownDataDir, { recursive: true, force: true });
  };
  let running: Awaited<ReturnType<typeof startServer>>;
  try {
    running = await startServer(config, createLogger(config.LOG_LEVEL));
  } catch (error) {
    // A start that fails (a test of a bad catalog) leaves no database or data folder behind.
    await removeOwnData();
    throw error;
  }
  const baseUrl = `http://127.0.0.1:${running.port}`;
  return {
    running,
    database,
    baseUrl,
    keyFor: async (organization, scope = 'admin') => {
      await createOrganization(running.context.pool, organization);
      return (await createApiKey(running.context.pool, organization, 'test', scope)).key;
    },
    request: (path, init = {}) => {
      const { key, json, headers, ...rest } = init;
      return fetch(`${baseUrl}${path}`, {
        ...rest,
        headers: {
          ...(key && { authorization: `Bearer ${key}` }),
          ...(json !== undefined && { 'content-type': 'application/json' }),
          ...(headers as Record<string, string> | undefined),
        },
        ...(json !== undefined && { body: JSON.stringify(json) }),
      });
    },
    stop: async () => {
      await running.close();
      await removeOwnData();
    },
  };
}
