/**
 * Small, real PostgreSQL clusters of our own for replication tests: a primary
 * made with initdb and hot standbys made from it with pg_basebackup, each on a
 * free loopback port in a temporary directory, run with pg_ctl from Debian's
 * `postgresql` package (PG_BIN, else the newest /usr/lib/postgresql/N/bin). As
 * root everything runs as the `postgres` OS user, as PostgreSQL requires.
 * Never touches any other server.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

function binDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((name) => fs.existsSync(path.join(root, name, 'bin/pg_ctl'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('replication tests need PostgreSQL server binaries: apt-get install -y postgresql (or set PG_BIN to the folder holding initdb and pg_ctl)');
  return path.join(root, newest, 'bin');
}

const asRoot = os.userInfo().uid === 0;

/** Runs a PostgreSQL program, as the postgres OS user when we are root. */
async function pgTool(tool: string, args: string[]): Promise<string> {
  const program = path.join(binDir(), tool);
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', program, ...args]] : [program, args];
  try {
    return (await run(file, argv, { cwd: '/tmp', timeout: 120_000 })).stdout;
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`${tool} ${args.join(' ')} failed: ${stderr || String(error)}`);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function makeDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (asRoot) {
    const { uid, gid } = postgresUser();
    fs.chownSync(dir, uid, gid);
  }
}

function postgresUser(): { uid: number; gid: number } {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((entry) => entry.startsWith('postgres:'));
  if (!line) throw new Error('running as root needs a postgres OS user (Debian: apt-get install -y postgresql creates it)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Settings small enough for a shared 2-core machine, fast to start and stop (fsync off: tests, not durability). */
const COMMON_SETTINGS = {
  listen_addresses: "'127.0.0.1'",
  shared_buffers: "'16MB'",
  max_connections: '80',
  fsync: 'off',
  wal_level: 'replica',
  max_wal_senders: '8',
  wal_keep_size: "'256MB'",
  hot_standby: 'on',
  hot_standby_feedback: 'on',
  wal_receiver_status_interval: "'1s'",
  log_min_messages: 'warning',
};

function settings(values: Record<string, string>): string {
  return `\n${Object.entries(values).map(([name, value]) => `${name} = ${value}`).join('\n')}\n`;
}

export class PgServer {
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** A URL for `database` on this server (superuser postgres, trust on loopback). */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    await pgTool('pg_ctl', ['-D', this.dir, '-l', path.join(this.dir, 'server.log'), '-w', '-t', '60', 'start']);
  }

  /** `immediate` is a crash as far as clients can tell: no checkpoint, connections cut. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!fs.existsSync(path.join(this.dir, 'postmaster.pid'))) return;
    await pgTool('pg_ctl', ['-D', this.dir, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  async promote(): Promise<void> {
    await pgTool('pg_ctl', ['-D', this.dir, '-w', '-t', '60', 'promote']);
  }

  /** One statement on a short-lived connection. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<R[]> {
    const client = new pg.Client({ connectionString: this.url(database) });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** ALTER SYSTEM of several settings, then a reload. */
  async configure(values: Record<string, string>): Promise<void> {
    for (const [name, value] of Object.entries(values)) await this.query(`ALTER SYSTEM SET ${name} = ${value}`);
    await this.query('SELECT pg_reload_conf()');
  }

  async remove(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A temporary folder for a cluster's servers; `cleanup` stops them all and deletes it. */
export class ClusterHome {
  readonly root: string;
  private readonly servers: PgServer[] = [];
  private count = 0;

  constructor(label: string) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), `mh-${label}-`));
    if (asRoot) fs.chmodSync(this.root, 0o755);
  }

  private async newServer(port?: number): Promise<PgServer> {
    const dir = path.join(this.root, `pg${this.count++}`);
    const server = new PgServer(dir, port ?? (await freePort()));
    this.servers.push(server);
    return server;
  }

  async primary(extra: Record<string, string> = {}): Promise<PgServer> {
    const server = await this.newServer();
    makeDir(server.dir);
    await pgTool('initdb', ['-D', server.dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    fs.appendFileSync(path.join(server.dir, 'postgresql.conf'), settings({ ...COMMON_SETTINGS, port: String(server.port), unix_socket_directories: `'${server.dir}'`, ...extra }));
    await server.start();
    return server;
  }

  /**
   * A hot standby streaming from `from`; `extra` e.g. recovery_min_apply_delay for a standby that
   * lags on purpose; `port` to rebuild one where a failed server was (clients keep their host list).
   */
  async standby(from: PgServer, extra: Record<string, string> = {}, port?: number): Promise<PgServer> {
    const server = await this.newServer(port);
    makeDir(server.dir);
    await pgTool('pg_basebackup', ['-h', '127.0.0.1', '-p', String(from.port), '-U', 'postgres', '-D', server.dir, '-R', '-X', 'stream', '-c', 'fast']);
    fs.rmSync(path.join(server.dir, 'server.log'), { force: true });
    // postgresql.auto.conf is read last, so these win over the primary's copied settings.
    fs.appendFileSync(path.join(server.dir, 'postgresql.auto.conf'), settings({ port: String(server.port), unix_socket_directories: `'${server.dir}'`, ...extra }));
    await server.start();
    return server;
  }

  async cleanup(): Promise<void> {
    for (const server of this.servers.reverse()) await server.stop('immediate').catch(() => undefined);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** Waits until `server` (a standby) has replayed at least `lsn`. */
export async function waitForReplay(server: PgServer, lsn: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [row] = await server.query<{ done: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [lsn]);
    if (row?.done) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`standby on ${server.port} did not replay ${lsn} within ${timeoutMs} ms`);
}
