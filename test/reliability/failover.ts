/**
 * The PostgreSQL of long mode: a primary and a hot standby from Debian's
 * server binaries (backend/test/support/pg-cluster.ts), named together in the
 * backends' DATABASE_URL (libpq multi-host form: they find the primary
 * themselves) and DATABASE_READ_URL (reads go to whichever is a standby that
 * has replayed far enough). The failover fault crashes the primary and
 * promotes the standby under load, then rebuilds a standby where the old
 * primary was, so the next failover can go the other way.
 */
import type { Pool } from '../../backend/src/db/pool.js';
import { ClusterHome, type PgServer } from '../../backend/test/support/pg-cluster.js';
import type { Org } from './load.js';
import { sleep } from './services.js';

const DATABASE = 'metrics_hub';
export type Replication = 'sync' | 'async';

const SYNC = { synchronous_commit: 'on', synchronous_standby_names: "'*'" };
const ASYNC = { synchronous_standby_names: "''" };

export class ReplicatedPostgres {
  private readonly home: ClusterHome;
  /** [primary, standby], swapped by every failover. */
  private servers: PgServer[] = [];

  constructor(label: string) {
    this.home = new ClusterHome(label);
  }

  /** Both servers, primary first at start: what the backends get as DATABASE_URL and DATABASE_READ_URL. */
  get url(): string {
    const [first, second] = [...this.servers].sort((a, b) => a.port - b.port);
    return `postgres://postgres@127.0.0.1:${first!.port},127.0.0.1:${second!.port}/${DATABASE}?target_session_attrs=read-write`;
  }

  get primary(): PgServer {
    return this.servers[0]!;
  }

  /** First call: a new primary and standby, synchronous. Later (after `stop`): the primary again, on its data. */
  async start(): Promise<void> {
    if (this.servers.length > 0) return this.primary.start();
    const primary = await this.home.primary();
    await primary.query(`CREATE DATABASE ${DATABASE}`);
    const standby = await this.home.standby(primary);
    this.servers = [primary, standby];
    await primary.configure(SYNC);
  }

  /** The primary stops (the restart fault); the standby waits for it. */
  async stop(): Promise<void> {
    await this.primary.stop('fast');
  }

  async replication(mode: Replication): Promise<void> {
    await this.primary.configure(mode === 'sync' ? SYNC : ASYNC);
  }

  /** The primary crashes (immediate: no checkpoint, connections cut) and the standby is promoted. */
  async failover(): Promise<void> {
    const [old, standby] = this.servers as [PgServer, PgServer];
    await old.stop('immediate');
    await standby.promote();
    // Alone, a synchronous primary would stall every commit until a standby returns (as a failover manager, turn it off).
    await standby.configure(ASYNC);
    this.servers = [standby, old];
  }

  /** A new standby where the failed primary was (never restarted as a primary: that would split the brain). */
  async rebuildStandby(mode: Replication): Promise<void> {
    const [primary, failed] = this.servers as [PgServer, PgServer];
    await failed.remove();
    this.servers = [primary, await this.home.standby(primary, {}, failed.port)];
    await this.replication(mode);
  }

  async cleanup(): Promise<void> {
    await this.home.cleanup();
  }
}

/**
 * Acknowledged events (a 200 said so) the database no longer holds: lost with
 * the crashed primary's unreplicated WAL. They leave each organization's truth
 * (and what queries saw before, on a timeline that no longer exists), so the
 * exact checks after the run hold for every other event.
 */
export async function forgetLostEvents(admin: Pool, orgs: Org[]): Promise<number> {
  let lost = 0;
  for (const org of orgs) {
    const acknowledged = [...org.truth.keys()];
    const { rows } = await untilAnswered(() => admin.query<{ id: string }>('SELECT event_id AS id FROM events WHERE organization_id = $1 AND event_id = ANY($2::text[])', [org.id, acknowledged]));
    const stored = new Set(rows.map((row) => row.id));
    const missing = acknowledged.filter((id) => !stored.has(id));
    for (const id of missing) org.truth.delete(id);
    if (missing.length > 0) org.maxSeen = { count: 0, sum: 0 };
    lost += missing.length;
  }
  return lost;
}

/** The pool finds the promoted primary on its own; its first attempts may still meet the crashed one. */
async function untilAnswered<T>(work: () => Promise<T>, attempts = 50): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(200);
    }
  }
}
