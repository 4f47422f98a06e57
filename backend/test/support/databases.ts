import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Tests run against the real PostgreSQL at DATABASE_URL (CI starts one). Each
 * test file gets its own fresh database so files never see each other's rows.
 */
export function requireDatabaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) {
    throw new Error('tests need a real PostgreSQL: set DATABASE_URL (bash .ci/run installs and starts one)');
  }
  return url;
}

export function requireRedisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('tests need a real Redis: set REDIS_URL (bash .ci/run installs and starts one)');
  return url;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const adminUrl = requireDatabaseUrl();
  const name = `mh_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
  await admin.end();
  return {
    name,
    url: withDatabase(adminUrl, name),
    drop: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** A Redis database index of its own per test process, flushed before use. */
export function redisUrlForTest(index: number): string {
  const parsed = new URL(requireRedisUrl());
  parsed.pathname = `/${index}`;
  return parsed.toString();
}
