import type { WalPosition } from '../db/wal.js';
import type { Redis } from './redis.js';
import { CacheVersions } from './versions.js';

/**
 * Reads, in one script, what a cached question needs from Redis: the
 * organization's version (seeded from the clock when missing, as
 * `CacheVersions.current` does), the source's own version, the read floor
 * and the answer stored under both versions. Step by step these were two or
 * three round trips per question, each a wait in every queue on a busy
 * machine (issue 23: a quiet tenant's latency while another floods).
 *
 * The answer's key is built inside the script from the versions it just
 * read, so it is the key `currentFor` would give: the same answers, written
 * by either path. (A script naming keys it was not given only works on a
 * single Redis or under Sentinel, which is what the backend supports.)
 */
const LOOKUP = `
local version = redis.call('GET', KEYS[1])
if not version then
  redis.call('SET', KEYS[1], ARGV[1], 'NX')
  version = redis.call('GET', KEYS[1])
end
local own = redis.call('GET', KEYS[2]) or '0'
local floor = redis.call('GET', KEYS[3])
local key = ARGV[2] .. version .. '.' .. own .. ARGV[3]
return {key, floor or false, redis.call('GET', key) or false, version, own}`;

const COMMAND = 'metricsHubCacheLookup';

type LookupReply = [string, string | null, string | null, string, string];

export interface OneTripAnswer {
  /** The versioned key of the answer (where a computed answer is stored). */
  key: string;
  /** The cached answer (JSON), undefined on a miss. */
  hit: string | undefined;
  /** The organization's read floor, read after its version; undefined when none is recorded (seed it step by step). */
  floor: WalPosition | undefined;
  /** What the key is made of: `${head}${version}.${own}:${questionHash}`, head naming the organization, source and Redis master. */
  head: string;
  /** The organization's version (moved by every write) and the source's own (moved by a cache clear). */
  version: string;
  own: string;
}

export class OneTripLookup {
  constructor(
    private readonly redis: Redis,
    private readonly versions: CacheVersions,
  ) {
    // EVALSHA with the script sent again only when Redis does not know it (a restart, a failover).
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 3, lua: LOOKUP });
  }

  /**
   * The lookup of one question in one round trip, or undefined when it must
   * go step by step: Redis not ready, its master unknown, or a write of this
   * organization not yet recorded in Redis (`CacheVersions` replays it first).
   * Throws when Redis fails mid-call; the step-by-step path then falls back.
   */
  async read(organizationId: string, scope: string, questionHash: string): Promise<OneTripAnswer | undefined> {
    const epoch = await this.versions.redisEpochFor(organizationId);
    if (epoch === undefined) return undefined;
    const run = (this.redis as unknown as Record<string, (...args: string[]) => Promise<LookupReply>>)[COMMAND]!.bind(this.redis);
    const head = `metrics:${organizationId}:${scope}:v${epoch}-`;
    const [key, floor, hit, version, own] = await run(
      CacheVersions.key(organizationId),
      CacheVersions.scopeKey(organizationId, scope),
      CacheVersions.floorKey(organizationId),
      String(Date.now()),
      head,
      `:${questionHash}`,
    );
    return { key, hit: hit ?? undefined, floor: floor === null ? undefined : BigInt(floor), head, version: String(version), own: String(own) };
  }
}
