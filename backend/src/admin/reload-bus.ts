import { randomUUID } from 'node:crypto';
import type { Redis } from '../cache/redis.js';
import type { Logger } from '../logger.js';

export const RELOAD_CHANNEL = 'metricshub:catalog:reload';

/**
 * Carries "the catalog was reloaded" to every backend process through Redis
 * pub/sub, so one reload (HTTP or SIGHUP on one process) reaches them all.
 * Each process then reads and validates its own copy of the file; one whose
 * file does not validate keeps its catalog and logs why.
 */
export class ReloadBus {
  private readonly origin = randomUUID();
  private subscriber: Redis | undefined;

  private constructor(
    private readonly redis: Redis | undefined,
    private readonly logger: Logger,
  ) {}

  static async start(redis: Redis | undefined, logger: Logger, onReload: (version: string) => Promise<void>): Promise<ReloadBus> {
    const bus = new ReloadBus(redis, logger);
    if (!redis) return bus;
    // A subscribed connection can do nothing else, so it gets its own; it may
    // queue its SUBSCRIBE until connected, unlike the shared fail-fast connection.
    const subscriber = redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined });
    bus.subscriber = subscriber;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== RELOAD_CHANNEL) return;
      let parsed: { origin?: string; version?: string };
      try {
        parsed = JSON.parse(message) as typeof parsed;
      } catch {
        return;
      }
      if (parsed.origin === bus.origin || typeof parsed.version !== 'string') return;
      onReload(parsed.version).catch((error: unknown) => logger.error({ err: error }, 'catalog reload announced by another process failed here; this process keeps its catalog'));
    });
    subscriber.on('error', (error: Error) => logger.debug({ err: error }, 'catalog reload subscriber'));
    // ioredis re-subscribes by itself after a reconnect. Not awaited: Redis may be down at start.
    subscriber.subscribe(RELOAD_CHANNEL).catch((error: unknown) => logger.warn({ err: error }, 'cannot subscribe to catalog reloads; other processes will not follow reloads until Redis is back'));
    return bus;
  }

  async announce(version: string): Promise<number> {
    if (!this.redis) return 0;
    return this.redis.publish(RELOAD_CHANNEL, JSON.stringify({ origin: this.origin, version }));
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
  }
}
