import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { primaryUrlOf } from './primary.js';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../migrations');

/**
 * Applies pending SQL migrations from `migrations/` with node-pg-migrate.
 * Safe to run concurrently from several processes: the tool takes an advisory
 * lock, and already-applied migrations are skipped, so it is idempotent.
 * With several servers in the URL, on the one that is the primary.
 */
export async function migrateUp(databaseUrl: string, logger: Logger): Promise<string[]> {
  // Our own connection, ended before returning: node-pg-migrate ends the one it opens without waiting, so a caller
  // that drops or stops the database right after (a test's DROP DATABASE ... WITH (FORCE)) could have that
  // connection terminated under it, an 'error' event nothing listens to (foundation.test.ts failed so in CI).
  const client = new pg.Client({ connectionString: await primaryUrlOf(databaseUrl, logger) });
  client.on('error', (error: Error) => logger.warn({ err: error }, 'migration connection lost'));
  await client.connect();
  let applied: Awaited<ReturnType<typeof runner>>;
  try {
    applied = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      count: Infinity,
      checkOrder: true,
      verbose: false,
      log: (message: string) => logger.debug({ migration: true }, message),
    });
  } finally {
    await client.end();
  }
  const names = applied.map((migration) => migration.name);
  if (names.length > 0) logger.info({ applied: names }, 'database migrations applied');
  return names;
}
