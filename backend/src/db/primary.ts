import pg from 'pg';
import type { Logger } from '../logger.js';
import { describeServer, serverUrls } from './hosts.js';

/** A connection reached a server that is not (or no longer) the primary. */
export class NotPrimaryError extends Error {
  /** Classified with connection failures: the database is unavailable for writes until the primary is found. */
  readonly code = 'MH_NOT_PRIMARY';
  constructor(server: string) {
    super(`${server} is a standby (pg_is_in_recovery() is true), not the primary; looking for the primary among the configured servers`);
    this.name = 'NotPrimaryError';
  }
}

const ROLE_SQL = 'SELECT pg_is_in_recovery() AS standby';

/**
 * Which of several configured servers is the primary now: libpq's
 * `target_session_attrs=read-write` for node-postgres, which connects to one
 * host only. Every new connection goes to the server last found to be the
 * primary and checks `pg_is_in_recovery()`; a connection that fails, or lands
 * on a standby, fails its request (503 + Retry-After) and starts one search
 * over the servers in their configured order, so the next connection goes to
 * the promoted server without a restart.
 */
export class PrimaryLocator {
  private current = 0;
  private searching: Promise<boolean> | undefined;

  constructor(
    readonly servers: string[],
    private readonly logger: Logger,
  ) {}

  /** The URL new connections use. */
  get target(): string {
    return this.servers[this.current]!;
  }

  /** With one server there is nothing to choose: its role is not checked (no extra round trip). */
  get checksRole(): boolean {
    return this.servers.length > 1;
  }

  /** A connection to `server` failed or found a standby: search once, unless the target already moved on. */
  lost(server: string): void {
    if (!this.checksRole || server !== this.target) return;
    void this.search();
  }

  /** After a failed connection to `server`: whether a search (the one running, or a new one) found another primary. */
  async movedFrom(server: string): Promise<boolean> {
    if (!this.checksRole) return false;
    if (server === this.target) await this.search();
    return server !== this.target;
  }

  /** The primary's URL now; rejects when no configured server is a reachable primary. */
  async find(): Promise<string> {
    if (this.checksRole && !(await this.search())) {
      throw new NotPrimaryError(`none of ${this.servers.map(describeServer).join(', ')}`);
    }
    return this.target;
  }

  private search(): Promise<boolean> {
    this.searching ??= this.searchServers().finally(() => (this.searching = undefined));
    return this.searching;
  }

  private async searchServers(): Promise<boolean> {
    for (let index = 0; index < this.servers.length; index += 1) {
      if (await isPrimary(this.servers[index]!)) {
        if (index !== this.current) this.logger.warn({ from: describeServer(this.target), to: describeServer(this.servers[index]!) }, 'PostgreSQL primary moved: new connections go to the new primary');
        this.current = index;
        return true;
      }
    }
    return false;
  }
}

async function isPrimary(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000, application_name: 'metrics-hub' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ standby: boolean }>(ROLE_SQL);
    return rows[0]?.standby === false;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

type ConnectCallback = (error: Error | null, client?: pg.Client) => void;

/** A pg.Client class whose connections go to the locator's primary (the `Client` option of pg.Pool). */
function primaryClientClass(locator: PrimaryLocator): typeof pg.Client {
  class PrimaryClient extends pg.Client {
    private readonly server: string;

    constructor(config?: pg.ClientConfig) {
      const server = locator.target;
      // connectionString would win over host/port: it is the one thing chosen per connection.
      super({ ...config, connectionString: server });
      this.server = server;
    }

    override connect(): Promise<pg.Client>;
    override connect(callback: ConnectCallback): void;
    override connect(callback?: ConnectCallback): Promise<pg.Client> | void {
      const connected = this.connectToPrimary();
      if (!callback) return connected;
      connected.then(
        (client) => callback(null, client),
        (error: Error) => callback(error),
      );
    }

    private async connectToPrimary(): Promise<pg.Client> {
      const self = this as unknown as pg.Client;
      try {
        await super.connect();
      } catch (error) {
        locator.lost(this.server);
        throw error;
      }
      if (!locator.checksRole) return self;
      const { rows } = await this.query<{ standby: boolean }>(ROLE_SQL);
      if (rows[0]?.standby === false) return self;
      locator.lost(this.server);
      await this.end().catch(() => undefined);
      throw new NotPrimaryError(describeServer(this.server));
    }
  }
  return PrimaryClient as unknown as typeof pg.Client;
}

type PoolConnectCallback = (error: Error | undefined, client: pg.PoolClient | undefined, release: (error?: unknown) => void) => void;

/**
 * A pool whose connections go to the locator's primary. A connection that
 * fails is tried once more when a search finds the primary elsewhere (as
 * libpq tries the next host), so a request fails only while no server is the
 * primary (crashed, not promoted yet): then 503 + Retry-After.
 */
export function primaryPool(options: pg.PoolConfig, locator: PrimaryLocator): pg.Pool {
  class PrimaryPool extends pg.Pool {
    override connect(): Promise<pg.PoolClient>;
    override connect(callback: PoolConnectCallback): void;
    override connect(callback?: PoolConnectCallback): Promise<pg.PoolClient> | void {
      const connected = this.connectToPrimary();
      if (!callback) return connected;
      connected.then(
        (client) => callback(undefined, client, (error) => client.release(error as Error | undefined)),
        (error: Error) => callback(error, undefined, () => undefined),
      );
    }

    private async connectToPrimary(): Promise<pg.PoolClient> {
      const target = locator.target;
      try {
        return await super.connect();
      } catch (error) {
        if (!(await locator.movedFrom(target))) throw error;
        return super.connect();
      }
    }
  }
  return new PrimaryPool({ ...options, Client: primaryClientClass(locator) });
}

/** The URL of the primary among the servers of a (possibly multi-host) DATABASE_URL: for tools that take one URL (migrations). */
export async function primaryUrlOf(connectionString: string, logger: Logger): Promise<string> {
  const servers = serverUrls(connectionString);
  return servers.length === 1 ? servers[0]! : new PrimaryLocator(servers, logger).find();
}
