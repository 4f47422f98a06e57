import type { Pool } from '../db/pool.js';
import type { Logger } from '../logger.js';

/**
 * When each key was last used, without a write per request: requests only
 * note the key in memory, and one UPDATE per interval records every key seen
 * since the last flush (and once more at shutdown). `last_used_at` is
 * therefore at most one interval old.
 */
export class KeyUsage {
  private seen = new Map<string, Date>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    private readonly intervalMs = 30_000,
  ) {}

  start(): this {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  touch(keyId: string): void {
    this.seen.set(keyId, new Date());
  }

  /** Writes what was seen since the last flush; a failed write keeps it for the next one. */
  flush(): Promise<void> {
    this.flushing ??= (async () => {
      const batch = this.seen;
      this.seen = new Map();
      if (batch.size === 0) return;
      try {
        await this.pool.query(
          `UPDATE api_keys AS k SET last_used_at = GREATEST(k.last_used_at, u.used_at)
           FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, used_at) WHERE k.id = u.id`,
          [[...batch.keys()], [...batch.values()]],
        );
      } catch (error) {
        for (const [id, at] of batch) if (!this.seen.has(id)) this.seen.set(id, at);
        this.logger.warn({ err: error }, 'could not record when API keys were last used; will retry');
      }
    })().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
