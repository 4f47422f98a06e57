import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import { describeServer, serverUrls } from './hosts.js';
import { createPool, type Pool } from './pool.js';
import { isDatabaseUnavailable } from './unavailable.js';
import { maxPosition, parseLsn, type WalPosition } from './wal.js';

/** Why a read went where it went (the `reason` label of metricshub_db_reads_total). */
export type ReadReason = 'replica caught up' | 'no replica configured' | 'write position unknown' | 'replicas behind or down' | 'replica failed';

interface Replica {
  server: string;
  pool: Pool;
  /** The furthest replay position seen on it; reset when it fails (it may have been replaced). */
  replayed: WalPosition | undefined;
  /** Not asked again before this time (down, or not a standby). */
  skipUntil: number;
  checking: Promise<void> | undefined;
}

/** A standby cancels a read whose rows replay must remove (40001) or whose locks it needs (40P01): the primary can answer. */
const isRecoveryConflict = (error: unknown) => ['40001', '40P01'].includes((error as { code?: string } | null)?.code ?? '');

const STANDBY_SQL = 'SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed';
const RETRY_DOWN_MS = 2_000;

/**
 * Reads that may go to a hot standby (DATABASE_READ_URL): rollup and totals
 * reads of the events source. A read says how new its data must be (the WAL
 * position of the organization's last write, kept with its cache version);
 * a standby answers only once `pg_last_wal_replay_lsn()` is at or past it,
 * otherwise the primary does, so a lagging standby's answer is never cached
 * under a version that promises newer data. Unknown position: the primary.
 */
export class ReadReplicas {
  private readonly replicas: Replica[];
  private next = 0;
  private readonly reads: Counter<'target' | 'reason'>;

  constructor(
    private readonly primary: Pool,
    readUrl: string | undefined,
    max: number,
    private readonly logger: Logger,
    registry?: Registry,
  ) {
    this.replicas = (readUrl ? serverUrls(readUrl) : []).map((server) => ({ server, pool: createPool(server, max, logger), replayed: undefined, skipUntil: 0, checking: undefined }));
    const name = 'metricshub_db_reads_total';
    this.reads =
      (registry?.getSingleMetric(name) as Counter<'target' | 'reason'> | undefined) ??
      new Counter({ name, help: 'Rollup reads by where they ran (replica, primary) and why', labelNames: ['target', 'reason'], registers: registry ? [registry] : [] });
  }

  get configured(): number {
    return this.replicas.length;
  }

  /**
   * Runs `work` on a standby that has replayed past `after`, else on the
   * primary. A standby failing mid-read (gone, restarted) hands the read to
   * the primary once.
   */
  async read<T>(after: WalPosition | undefined, work: (pool: Pool) => Promise<T>): Promise<T> {
    const route = await this.route(after);
    if (!route.replica) {
      this.reads.inc({ target: 'primary', reason: route.reason });
      return work(this.primary);
    }
    try {
      const answer = await work(route.replica.pool);
      this.reads.inc({ target: 'replica', reason: route.reason });
      return answer;
    } catch (error) {
      if (!isDatabaseUnavailable(error) && !isRecoveryConflict(error)) throw error;
      this.markDown(route.replica, error);
      this.reads.inc({ target: 'primary', reason: 'replica failed' });
      return work(this.primary);
    }
  }

  /** Where a read needing data as new as `after` goes now (exported for tests and the benchmark). */
  async route(after: WalPosition | undefined): Promise<{ replica?: Replica; reason: ReadReason }> {
    if (this.replicas.length === 0) return { reason: 'no replica configured' };
    if (after === undefined) return { reason: 'write position unknown' };
    // Round robin over the standbys, each asked only when what is known of it is not enough.
    for (let tried = 0; tried < this.replicas.length; tried += 1) {
      const replica = this.replicas[(this.next + tried) % this.replicas.length]!;
      if (replica.skipUntil > Date.now()) continue;
      if (replica.replayed === undefined || replica.replayed < after) await this.check(replica);
      if (replica.replayed !== undefined && replica.replayed >= after) {
        this.next = (this.next + tried + 1) % this.replicas.length;
        return { replica, reason: 'replica caught up' };
      }
    }
    return { reason: 'replicas behind or down' };
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((replica) => replica.pool.end()));
  }

  private check(replica: Replica): Promise<void> {
    replica.checking ??= (async () => {
      try {
        const { rows } = await replica.pool.query<{ standby: boolean; replayed: string | null }>(STANDBY_SQL);
        const { standby, replayed } = rows[0]!;
        if (!standby || replayed === null) {
          // Promoted (or a primary listed by mistake): its replay position says nothing about its data.
          replica.replayed = undefined;
          replica.skipUntil = Date.now() + RETRY_DOWN_MS;
          this.logger.debug({ server: describeServer(replica.server) }, 'read replica is not a standby: reads go to the primary');
          return;
        }
        replica.replayed = maxPosition(replica.replayed, parseLsn(replayed));
      } catch (error) {
        this.markDown(replica, error);
      }
    })().finally(() => (replica.checking = undefined));
    return replica.checking;
  }

  private markDown(replica: Replica, error: unknown): void {
    replica.replayed = undefined;
    replica.skipUntil = Date.now() + RETRY_DOWN_MS;
    this.logger.warn({ server: describeServer(replica.server), err: error }, 'read replica unavailable: reads go to the primary');
  }
}
