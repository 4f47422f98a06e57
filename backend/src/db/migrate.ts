import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
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
  const applied = await runner({
    databaseUrl: await primaryUrlOf(databaseUrl, logger),
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    count: Infinity,
    checkOrder: true,
    verbose: false,
    log: (message: string) => logger.debug({ migration: true }, message),
  });
  const names = applied.map((migration) => migration.name);
  if (names.length > 0) logger.info({ applied: names }, 'database migrations applied');
  return names;
}
