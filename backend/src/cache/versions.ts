import { maxPosition, type WalPosition } from '../db/wal.js';
import type { Redis } from './redis.js';

/**
 * Raises a decimal WAL position to at least ARGV[1] (positions exceed Lua's
 * exact integers, so they compare as decimal strings: longer is larger).
 */
const RAISE_FLOOR = `
local function raise(key, position)
  local stored = redis.call('GET', key)
  if not stored or #position > #stored or (#position == #stored and position > stored) then
    redis.call('SET', key, position)
    return position
  end
  return stored
end`;

/**
 * A write's position is recorded before its version moves, in one step: a reader seeing the new version sees the
 * position. Returns the new version and the floor beside it, as a lookup would read them at that instant.
 */
const BUMP_WITH_FLOOR = `${RAISE_FLOOR}
if ARGV[1] ~= '' then raise(KEYS[2], ARGV[1]) end
redis.call('SET', KEYS[1], ARGV[2], 'NX')
local version = redis.call('INCR', KEYS[1])
return {version, redis.call('GET', KEYS[2]) or false}`;

/** A version this process moved in Redis, and the read floor beside it (undefined when none is recorded). */
export type BumpListener = (organizationId: string, version: string, floor: WalPosition | undefined) => void;

const SEED_FLOOR = `${RAISE_FLOOR}
return raise(KEYS[1], ARGV[1])`;

/**
 * Per-organization cache versions (`metrics:{orgId}:version`). Every write that
 * changes an organization's aggregates bumps its version, so cached answers
 * under the old version are never read again and nothing needs deleting.
 *
 * A missing version key (first use, or lost by Redis) is seeded from the clock
 * rather than 1, so a lost key can never bring an older version back to life.
 * Without Redis (unset or down) versions live in this process.
 */
export class CacheVersions {
  private readonly local = new Map<string, number>();
  private readonly localScopes = new Map<string, number>();
  /** Organizations written while Redis was unreachable: their Redis versions must move on when it returns. */
  private readonly missed = new Set<string>();
  /** The newest write position this process knows per organization (all of it without Redis). */
  private readonly localFloors = new Map<string, WalPosition>();

  /** Told of every version this process moves in Redis (QueryCache: the answers it can start before their lookup returns). */
  private readonly bumpListeners: BumpListener[] = [];

  /** The replication id of the Redis master this connection is on (see `epoch`); reset when the connection drops. */
  private masterEpoch: Promise<string> | undefined;

  /**
   * `primaryPosition` (the primary's current WAL position) seeds an
   * organization's read floor when none is recorded: everything committed
   * before is then covered. Without it an unrecorded floor is unknown.
   */
  constructor(
    private readonly redis: Redis | undefined,
    private readonly primaryPosition?: () => Promise<WalPosition>,
  ) {
    // Answers cached in Redis before an outage would otherwise outlive writes made during it.
    redis?.on('ready', () => void this.replayMissed());
    redis?.on('close', () => (this.masterEpoch = undefined));
  }

  /**
   * Replication is asynchronous, so a failover to a replica (Sentinel) can lose
   * the last version bumps while keeping answers cached before them: the
   * version would step back onto stale answers. A promoted replica (or a
   * restarted Redis) has a new `master_replid`, and it leads every version
   * read from Redis, so nothing cached under an earlier master is read again.
   */
  private epoch(): Promise<string> {
    this.masterEpoch ??= this.redis!.info('replication').then(
      (info) => /^master_replid:(\w+)/m.exec(info)?.[1]?.slice(0, 12) ?? 'standalone',
      (error: unknown) => {
        this.masterEpoch = undefined;
        throw error;
      },
    );
    return this.masterEpoch;
  }

  /**
   * The Redis master's epoch when this organization's versions can be read
   * straight from Redis in one step (`OneTripLookup`): Redis ready, its master
   * known and no write of the organization waiting to be replayed there.
   * Undefined otherwise: read step by step through `currentFor`.
   */
  async redisEpochFor(organizationId: string): Promise<string | undefined> {
    if (!this.redis || this.redis.status !== 'ready' || this.missed.has(organizationId)) return undefined;
    return this.epoch().catch(() => undefined);
  }

  static key(organizationId: string): string {
    return `metrics:${organizationId}:version`;
  }

  /** The WAL position of the organization's newest write (decimal), kept beside its version. */
  static floorKey(organizationId: string): string {
    return `metrics:${organizationId}:wal`;
  }

  /** Whether `readFloor` can seed a floor no write recorded (from the primary's position: with read replicas only). */
  get seedsFloor(): boolean {
    return this.primaryPosition !== undefined;
  }

  /**
   * How new a read for this organization must be (a WAL position, for read
   * replicas), read after its version: an answer computed from data at least
   * this new may be cached under that version. Undefined when it cannot be
   * known (Redis configured but unreachable): read from the primary then.
   */
  async readFloor(organizationId: string): Promise<WalPosition | undefined> {
    if (this.redis) {
      if (this.redis.status !== 'ready') return undefined;
      try {
        const stored = await this.redis.get(CacheVersions.floorKey(organizationId));
        if (stored !== null) return BigInt(stored);
        if (!this.primaryPosition) return undefined;
        const seeded = await this.redis.eval(SEED_FLOOR, 1, CacheVersions.floorKey(organizationId), String(await this.primaryPosition()));
        return BigInt(String(seeded));
      } catch {
        return undefined;
      }
    }
    const known = this.localFloors.get(organizationId);
    if (known !== undefined || !this.primaryPosition) return known;
    const seeded = maxPosition(this.localFloors.get(organizationId), await this.primaryPosition().catch(() => undefined));
    if (seeded !== undefined) this.localFloors.set(organizationId, seeded);
    return seeded;
  }

  /** One source's own version within an organization: bumped by an operator's cache clear. */
  static scopeKey(organizationId: string, scope: string): string {
    return `metrics:${organizationId}:${scope}:version`;
  }

  /**
   * The version an answer of `scope` is cached under: the organization's
   * version (moved by every write) and the scope's (moved by a cache clear).
   */
  async currentFor(organizationId: string, scope: string): Promise<string> {
    const epoch = this.redis && this.redis.status === 'ready' ? await this.epoch().catch(() => undefined) : undefined;
    const [organization, own] = await Promise.all([this.current(organizationId), this.scopeVersion(organizationId, scope)]);
    if (organization.startsWith('local-')) return `${organization}.${own}`;
    // Read from Redis, but its master unknown (the connection just dropped): this process's own versions.
    if (epoch === undefined) return `${this.localVersion(organizationId)}.local-${this.localScopes.get(`${organizationId}:${scope}`) ?? 0}`;
    return `${epoch}-${organization}.${own}`;
  }

  /**
   * `currentFor` and `readFloor` in one Redis round trip (MGET reads the three
   * keys at one instant, and a bump records the floor before the version in
   * one script, so the floor read is never older than the version). Every
   * cold answer reads both; answering a dashboard asks this once per query.
   * Anything unusual (no Redis, a missed bump to replay, a key not yet seeded,
   * the master unknown) takes the two separate reads.
   */
  async currentWithFloor(organizationId: string, scope: string): Promise<{ version: string; floor: WalPosition | undefined }> {
    const separately = async () => ({ version: await this.currentFor(organizationId, scope), floor: await this.readFloor(organizationId) });
    if (!this.redis || this.redis.status !== 'ready' || this.missed.has(organizationId)) return separately();
    try {
      const epoch = await this.epoch();
      const [organization, own, floor] = await this.redis.mget(CacheVersions.key(organizationId), CacheVersions.scopeKey(organizationId, scope), CacheVersions.floorKey(organizationId));
      if (organization == null) return separately();
      const version = `${epoch}-${organization}.${own ?? '0'}`;
      if (floor != null) return { version, floor: BigInt(floor) };
      // No write recorded yet: seeded from the primary's position (readFloor), or unknown without one.
      return { version, floor: this.primaryPosition ? await this.readFloor(organizationId) : undefined };
    } catch {
      return separately();
    }
  }

  /**
   * Makes every cached answer of one source for one organization unreachable.
   * With Redis configured the clear must reach Redis (where every process
   * reads), so it fails while Redis is down rather than clear one process only.
   */
  async bumpScope(organizationId: string, scope: string): Promise<void> {
    const localKey = `${organizationId}:${scope}`;
    this.localScopes.set(localKey, Math.max(Date.now(), (this.localScopes.get(localKey) ?? 0) + 1));
    if (!this.redis) return;
    const key = CacheVersions.scopeKey(organizationId, scope);
    await this.redis.set(key, String(Date.now()), 'NX');
    await this.redis.incr(key);
  }

  private async scopeVersion(organizationId: string, scope: string): Promise<string> {
    if (this.redis && this.redis.status === 'ready') {
      try {
        return (await this.redis.get(CacheVersions.scopeKey(organizationId, scope))) ?? '0';
      } catch {
        // Redis unavailable: answers then live in this process's memory, under the local version.
      }
    }
    return `local-${this.localScopes.get(`${organizationId}:${scope}`) ?? 0}`;
  }

  async current(organizationId: string): Promise<string> {
    if (this.redis && this.redis.status === 'ready') {
      try {
        // A write this process could not record in Redis comes first, or older answers would be read.
        if (this.missed.has(organizationId)) {
          await this.bumpInRedis(organizationId, this.localFloors.get(organizationId));
          this.missed.delete(organizationId);
        }
        const key = CacheVersions.key(organizationId);
        const value = await this.redis.get(key);
        if (value !== null) return value;
        await this.redis.set(key, String(Date.now()), 'NX');
        return (await this.redis.get(key)) ?? this.localVersion(organizationId);
      } catch {
        // Fall through to the in-process version while Redis is unavailable.
      }
    }
    return this.localVersion(organizationId);
  }

  /**
   * After a write that changed the organization's aggregates. `written` is
   * the WAL position once it committed (withTransactionAt): reads under the
   * new version then wait for a replica to replay it, or go to the primary.
   */
  async bump(organizationId: string, written?: WalPosition): Promise<void> {
    // Always bump locally too: if Redis goes down later, this process's local
    // version already differs from anything it cached locally before the write.
    this.local.set(organizationId, Math.max(Date.now(), (this.local.get(organizationId) ?? 0) + 1));
    const floor = maxPosition(this.localFloors.get(organizationId), written);
    if (floor !== undefined) this.localFloors.set(organizationId, floor);
    if (this.redis && this.redis.status === 'ready') {
      try {
        await this.bumpInRedis(organizationId, written);
        return;
      } catch {
        // Redis unavailable: replayed when it is ready again.
      }
    }
    if (this.redis) this.missed.add(organizationId);
  }

  onBump(listener: BumpListener): void {
    this.bumpListeners.push(listener);
  }

  private async bumpInRedis(organizationId: string, written: WalPosition | undefined): Promise<void> {
    const [version, floor] = (await this.redis!.eval(
      BUMP_WITH_FLOOR,
      2,
      CacheVersions.key(organizationId),
      CacheVersions.floorKey(organizationId),
      written === undefined ? '' : String(written),
      String(Date.now()),
    )) as [number, string | null];
    for (const listener of this.bumpListeners) listener(organizationId, String(version), floor === null ? undefined : BigInt(floor));
  }

  private async replayMissed(): Promise<void> {
    for (const organizationId of [...this.missed]) {
      try {
        await this.bumpInRedis(organizationId, this.localFloors.get(organizationId));
        this.missed.delete(organizationId);
      } catch {
        return;
      }
    }
  }

  private localVersion(organizationId: string): string {
    let version = this.local.get(organizationId);
    if (version === undefined) {
      version = Date.now();
      this.local.set(organizationId, version);
    }
    return `local-${version}`;
  }
}
