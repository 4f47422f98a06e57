import crypto from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WalPosition } from '../db/wal.js';
import type { Logger } from '../logger.js';
import { OneTripLookup, type OneTripAnswer } from './one-trip.js';
import type { Redis } from './redis.js';
import type { CacheVersions } from './versions.js';

export interface Cached<T> {
  value: T;
  /** True when the answer came from the cache rather than from its source. */
  cached: boolean;
}

type Store = 'redis' | 'memory';

/** What `lookupText` found: the text when cached, else where and how to store it. */
export interface StoredText {
  key: string;
  text: string | undefined;
  newest: string;
  /** The source whose version the key carries. */
  scope: string;
  /** Keys of the same organization, scope and version begin with this (`metrics:{orgId}:{scope}:v{version}:`). */
  prefix: string;
  /** The read floor read with the version (undefined: none recorded, or unknown). */
  floor: WalPosition | undefined;
  /** Keys of the flights computed for this answer (`computeWithin`), joinable until it is stored or released. */
  parts: string[];
  /** Set by `release`: a part asked after it (an answer set aside while still computing) is not joinable. */
  released?: boolean;
}

/**
 * An answer started before its lookup returned (`QueryCache.lookupTextAhead`): `provisional` is where it will be stored
 * if `confirmed`, the lookup itself, finds no answer under that same key and floor.
 */
export interface AheadText {
  provisional: StoredText;
  /** Undefined when the lookup failed (never rejects: the caller may await it turns later). */
  confirmed: Promise<StoredText | undefined>;
}

/**
 * Whether a lookup (`confirmed`) found the versions an answer computed under `provisional` was read at: the same key
 * and read floor. Without an answer stored there, that answer is served and stored.
 */
export function confirms(provisional: StoredText, confirmed: StoredText | undefined): confirmed is StoredText {
  return confirmed !== undefined && confirmed.key === provisional.key && confirmed.floor === provisional.floor;
}

/** What this process last read or moved of one organization's versions for one source (see `lookupTextAhead`). */
interface KnownVersion {
  head: string;
  version: string;
  own: string;
  floor: WalPosition | undefined;
}

/**
 * JSON with object keys sorted, so equal questions hash equally whatever their key order. Every cold answer
 * serializes two questions (its stored answer's and its source question's), a dashboard load about sixty: written
 * with loops into one string rather than entries, filters, sorts by callback and joins (bench/README.md, issue 20,
 * step 17), numbers, booleans and dates without JSON.stringify and each key quoted once per process (step 24).
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      // What JSON.stringify writes: the shortest round-trip text (-0 as 0), non-finite numbers as null.
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value !== null) break;
      return 'null';
    default:
      return JSON.stringify(value ?? null);
  }
  // An ISO date holds no character JSON escapes (toISOString throws for an invalid date, as JSON.stringify did).
  if (value instanceof Date) return `"${value.toISOString()}"`;
  if (Array.isArray(value)) {
    let out = '[';
    // A hole is written as nothing, as Array.prototype.join writes it.
    for (let index = 0; index < value.length; index += 1) out += `${index > 0 ? ',' : ''}${index in value ? canonicalJson(value[index]) : ''}`;
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  // The default sort compares UTF-16 code units, as `a < b` does.
  const keys = Object.keys(record).sort();
  let out = '{';
  for (const key of keys) {
    const item = record[key];
    if (item === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${quotedKey(key)}:${canonicalJson(item)}`;
  }
  return `${out}}`;
}

/** Keys as JSON strings: questions use a few dozen names, each quoted once. Bounded against odd callers. */
const quotedKeys = new Map<string, string>();
function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < 4_096) quotedKeys.set(key, quoted);
  }
  return quoted;
}

/** SHA-256 in hex in one call where Node has it (20.12+): no Hash object per question. */
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text).digest('hex');

/** An answer's key under a version; OneTripLookup builds the same key inside its script. */
function answerKey(organizationId: string, scope: string, version: string, question: unknown): string {
  return `metrics:${organizationId}:${scope}:v${version}:${questionHash(question)}`;
}

function newestKey(organizationId: string, scope: string): string {
  return `metrics:${organizationId}:${scope}:newest`;
}

export function questionHash(question: unknown): string {
  return sha256Hex(canonicalJson(question)).slice(0, 32);
}

/**
 * Answers by organization, scope and question, in Redis when it is reachable
 * and in an in-process LRU otherwise (Redis unset or down; back to Redis as
 * soon as it is ready again). Keys carry the organization's cache version
 * (`metrics:{orgId}:{scope}:v{version}:{hash}`), so a write that bumps the
 * version makes every older answer unreachable at once.
 *
 * Identical concurrent questions share one flight: one cache read and, on a
 * miss, one computation, whatever the number of callers.
 */
export class QueryCache {
  private readonly memory: LRUCache<string, string>;
  private readonly flights = new Map<string, Promise<Cached<unknown>>>();
  /** Texts handed to `storeTextLater` and not yet written to their store. */
  private readonly storing = new Map<string, string>();
  private readonly lookups: Counter<'store' | 'result'>;
  /** When this process last stored an answer per organization and scope (the memory store's view of "newest"). */
  private readonly newestLocal = new Map<string, number>();
  /** When this process last wrote the newest-answer time to Redis per organization and scope. */
  private readonly newestWritten = new Map<string, number>();
  /** Versions and answer in one Redis round trip (undefined without Redis). */
  private readonly oneTrip: OneTripLookup | undefined;
  /** Per organization and source, the newest versions this process read in a lookup or moved itself. */
  private readonly known = new LRUCache<string, Map<string, KnownVersion>>({ max: 10_000 });
  /** Per organization, source and question: the version (`version.own`) it was last looked up, or started ahead, under. */
  private readonly lastAsked = new LRUCache<string, string>({ max: 50_000 });
  private readonly ahead: Counter<'result'>;

  constructor(
    private readonly redis: Redis | undefined,
    private readonly versions: CacheVersions,
    registry: Registry,
    private readonly logger: Logger,
    maxMemoryBytes = 64 * 1024 * 1024,
  ) {
    this.oneTrip = redis && new OneTripLookup(redis, versions);
    versions.onBump((organizationId, version, floor) => this.bumped(organizationId, version, floor));
    this.memory = new LRUCache<string, string>({ maxSize: maxMemoryBytes, sizeCalculation: (value, key) => value.length + key.length });
    this.lookups =
      (registry.getSingleMetric('metricshub_cache_lookups_total') as Counter<'store' | 'result'> | undefined) ??
      new Counter({ name: 'metricshub_cache_lookups_total', help: 'Query cache lookups by store (redis, memory) and result (hit, miss)', labelNames: ['store', 'result'], registers: [registry] });
    this.ahead =
      (registry.getSingleMetric('metricshub_cache_answers_ahead_total') as Counter<'result'> | undefined) ??
      new Counter({
        name: 'metricshub_cache_answers_ahead_total',
        help: 'Answers started before their cache lookup returned, by what the lookup said: confirmed (stored), hit (served from the cache), moved (computed again under a newer version)',
        labelNames: ['result'],
        registers: [registry],
      });
    if (!registry.getSingleMetric('metricshub_cache_hit_ratio')) {
      const lookups = this.lookups;
      new Gauge({
        name: 'metricshub_cache_hit_ratio',
        help: 'Share of query cache lookups answered from the cache since the process started',
        registers: [registry],
        async collect() {
          const values = (await lookups.get()).values;
          const hits = values.filter((entry) => entry.labels.result === 'hit').reduce((sum, entry) => sum + entry.value, 0);
          const total = values.reduce((sum, entry) => sum + entry.value, 0);
          this.set(total === 0 ? 0 : hits / total);
        },
      });
    }
  }

  /**
   * The cached answer, or `compute`'s, stored under the organization's current
   * version. `compute` gets how new the data it reads must be (`readAfter`, a
   * WAL position read after the version): a read replica that has not
   * replayed that far must not answer, or its lag would be cached as the truth.
   */
  async getOrCompute<T>(organizationId: string, scope: string, question: unknown, ttlSeconds: number, compute: (readAfter: WalPosition | undefined) => Promise<T>): Promise<Cached<T>> {
    const oneTrip = await this.readInOneTrip(organizationId, scope, questionHash(question));
    if (oneTrip) {
      this.lookups.inc({ store: 'redis', result: oneTrip.hit === undefined ? 'miss' : 'hit' });
      if (oneTrip.hit !== undefined) return { value: JSON.parse(oneTrip.hit) as T, cached: true };
      return this.computeOnce(oneTrip.key, ttlSeconds, async () => compute(oneTrip.floor ?? (await this.seedFloor(organizationId))), newestKey(organizationId, scope));
    }
    // Step by step: without Redis, while it is not ready, or when the one-trip read failed.
    const { version, floor } = await this.versions.currentWithFloor(organizationId, scope);
    const key = answerKey(organizationId, scope, version, question);
    const existing = this.flights.get(key);
    if (existing) return existing as Promise<Cached<T>>;
    const flight = this.lookupOrCompute(key, ttlSeconds, () => compute(floor), newestKey(organizationId, scope)).finally(() => this.flights.delete(key));
    this.flights.set(key, flight);
    return flight;
  }

  /**
   * A stored text answer (e.g. an answer's serialized frames), or where to
   * store one: the key under the organization's current version. Unlike
   * `getOrCompute` the text is neither parsed nor shared between concurrent
   * callers (the caller does that): a hit is one Redis round trip (the
   * one-trip script), or two reads step by step.
   */
  async lookupText(organizationId: string, scope: string, question: unknown): Promise<StoredText> {
    const newest = newestKey(organizationId, scope);
    const hash = questionHash(question);
    const oneTrip = await this.readInOneTrip(organizationId, scope, hash);
    if (oneTrip) {
      this.learn(organizationId, scope, hash, oneTrip);
      const text = oneTrip.hit ?? this.storing.get(oneTrip.key);
      this.lookups.inc({ store: 'redis', result: text === undefined ? 'miss' : 'hit' });
      return { key: oneTrip.key, text, newest, scope, prefix: oneTrip.key.slice(0, oneTrip.key.length - hash.length), floor: oneTrip.floor, parts: [] };
    }
    const { version, floor } = await this.versions.currentWithFloor(organizationId, scope);
    const key = answerKey(organizationId, scope, version, question);
    const store = this.store();
    const text = (await this.read(store, key)) ?? this.storing.get(key);
    this.lookups.inc({ store, result: text === undefined ? 'miss' : 'hit' });
    return { key, text, newest, scope, prefix: key.slice(0, key.length - hash.length), floor, parts: [] };
  }

  /**
   * `lookupText`, with the answer's computation allowed to start before the lookup returns: when this process knows
   * the organization's current versions (it read them in a lookup, or moved them with a write) and has not asked
   * this question under them, the question is most likely missing from the cache (a write made its answers
   * unreachable), and waiting for Redis to say so is half a cold answer's wait (bench/README.md, issue 20, step 28).
   * Undefined otherwise: look up first.
   *
   * Why an answer computed under `provisional` may be stored under it: the versions it names were read from Redis (or
   * returned by this process's own bump) before the computation's statements were sent, and every write moves the
   * version only after it has committed, so every write those versions count is visible to the statements. The
   * caller serves or stores that answer only if `confirmed` finds no answer under the same key and floor; else it
   * serves the stored one, or computes again under `confirmed`'s newer versions.
   */
  lookupTextAhead(organizationId: string, scope: string, question: unknown): AheadText | undefined {
    if (!this.oneTrip || this.store() !== 'redis') return undefined;
    const known = this.known.get(organizationId)?.get(scope);
    if (!known) return undefined;
    const hash = questionHash(question);
    const asked = `${organizationId}:${scope}:${hash}`;
    const versions = `${known.version}.${known.own}`;
    if (this.lastAsked.get(asked) === versions) return undefined;
    this.lastAsked.set(asked, versions);
    const prefix = `${known.head}${versions}:`;
    const provisional: StoredText = { key: prefix + hash, text: undefined, newest: newestKey(organizationId, scope), scope, prefix, floor: known.floor, parts: [] };
    const confirmed = this.lookupText(organizationId, scope, question).then(
      (stored) => {
        this.ahead.inc({ result: stored.text !== undefined ? 'hit' : confirms(provisional, stored) ? 'confirmed' : 'moved' });
        return stored;
      },
      (error: unknown) => {
        this.logger.debug({ err: error }, 'cache lookup of an answer started ahead failed');
        this.ahead.inc({ result: 'moved' });
        return undefined;
      },
    );
    return { provisional, confirmed };
  }

  /** A lookup's versions: the newest this process knows for the organization and source, unless it moved them further. */
  private learn(organizationId: string, scope: string, hash: string, read: OneTripAnswer): void {
    this.lastAsked.set(`${organizationId}:${scope}:${hash}`, `${read.version}.${read.own}`);
    let scopes = this.known.get(organizationId);
    if (!scopes) this.known.set(organizationId, (scopes = new Map()));
    const known = scopes.get(scope);
    // Replies of lookups sent before this process's own bump can arrive after it: an older version is not learned.
    if (known && known.head === read.head && Number(known.version) > Number(read.version)) return;
    scopes.set(scope, { head: read.head, version: read.version, own: read.own, floor: read.floor });
  }

  /** This process moved an organization's version (a write): the version and floor its bump returned. */
  private bumped(organizationId: string, version: string, floor: WalPosition | undefined): void {
    for (const known of this.known.get(organizationId)?.values() ?? []) {
      if (Number(version) <= Number(known.version)) continue;
      known.version = version;
      known.floor = floor;
    }
  }

  /**
   * Stores a text answer under the key `lookupText` gave, on a later turn of
   * the event loop: the answer goes out first. The key was fixed by the
   * version read before the answer was computed, so however late the write,
   * an answer is never stored under a version that moved on meanwhile. Until
   * Redis has it, this process's own lookups of the key find it here, and
   * the flights of its parts stay joinable: a lookup answered "miss" before
   * the write (its reply handled a turn later at most, as in computeOnce)
   * joins them instead of computing again.
   */
  storeTextLater(stored: StoredText, text: string, ttlSeconds: number): void {
    this.storing.set(stored.key, text);
    setImmediate(() =>
      void this.write(this.store(), stored.key, text, ttlSeconds, stored.newest).finally(() =>
        setImmediate(() => {
          this.storing.delete(stored.key);
          this.release(stored);
        }),
      ),
    );
  }

  /** Ends the flights of a stored answer's parts: once it is stored, or when it will not be (its computation failed). */
  release(stored: StoredText): void {
    stored.released = true;
    for (const key of stored.parts.splice(0)) this.flights.delete(key);
  }

  /**
   * A source's part of a stored answer being computed (after `lookupText`
   * missed): under that lookup's version and read floor, so without a Redis
   * round trip of its own, and not stored in Redis (the whole answer is).
   * Identical questions share one computation, whichever way they asked
   * (this or `getOrCompute`: the flight is keyed by the versioned key), until
   * the answer it was computed for is stored (`storeTextLater`) or released.
   */
  async computeWithin<T>(stored: StoredText, organizationId: string, question: unknown, compute: (readAfter: WalPosition | undefined) => Promise<T>): Promise<T> {
    // Nothing will release a part registered now: computed on its own.
    if (stored.released) return compute(stored.floor ?? (await this.seedFloor(organizationId)));
    const key = stored.prefix + questionHash(question);
    let flight = this.flights.get(key) as Promise<Cached<T>> | undefined;
    if (!flight) {
      flight = (async () => ({ value: await compute(stored.floor ?? (await this.seedFloor(organizationId))), cached: false }))();
      this.flights.set(key, flight);
      stored.parts.push(key);
      // A failure is not shared beyond the callers already waiting.
      flight.catch(() => this.flights.delete(key));
    }
    return (await flight).value;
  }

  /** The read floor when none is recorded: seeded from the primary when there are replicas (a read would else go to the primary anyway). */
  private seedFloor(organizationId: string): Promise<WalPosition | undefined> | undefined {
    return this.versions.seedsFloor ? this.versions.readFloor(organizationId) : undefined;
  }

  private async readInOneTrip(organizationId: string, scope: string, hash: string): Promise<OneTripAnswer | undefined> {
    if (!this.oneTrip) return undefined;
    try {
      return await this.oneTrip.read(organizationId, scope, hash);
    } catch (error) {
      this.logger.debug({ err: error }, 'one-trip cache lookup failed');
      return undefined;
    }
  }

  /**
   * Computes a missed answer once for all concurrent callers and stores it in
   * Redis. The flight stays joinable until Redis has stored the answer and
   * every reply that came before the write's has been handled (a turn later:
   * auto-pipelined replies reach their callers on later ticks): a lookup sent
   * before the write, and so answered "miss", joins it instead of computing
   * again.
   */
  private computeOnce<T>(key: string, ttlSeconds: number, compute: () => Promise<T>, newest: string): Promise<Cached<T>> {
    const existing = this.flights.get(key);
    if (existing) return existing as Promise<Cached<T>>;
    const flight = compute().then((value) => {
      void this.write('redis', key, JSON.stringify(value), ttlSeconds, newest).finally(() => setImmediate(() => this.flights.delete(key)));
      return { value, cached: false };
    });
    flight.catch(() => this.flights.delete(key));
    this.flights.set(key, flight);
    return flight;
  }

  /** Drops one source's cached answers for one organization (every process, through the versions). */
  async clear(organizationId: string, scope: string): Promise<void> {
    await this.versions.bumpScope(organizationId, scope);
    this.newestLocal.delete(newestKey(organizationId, scope));
    this.newestWritten.delete(newestKey(organizationId, scope));
    await this.redis?.del(newestKey(organizationId, scope)).catch(() => undefined);
  }

  /** Seconds since the newest answer of a source was cached for an organization; null when none is. */
  async newestAnswerAgeSeconds(organizationId: string, scope: string, now = Date.now()): Promise<number | null> {
    let at: number | undefined = this.newestLocal.get(newestKey(organizationId, scope));
    if (this.store() === 'redis') {
      const stored = await this.redis!.get(newestKey(organizationId, scope)).catch(() => null);
      if (stored !== null) at = Math.max(at ?? 0, Number(stored));
    }
    return at === undefined ? null : Math.max(0, Math.round((now - at) / 1000));
  }

  private async lookupOrCompute<T>(key: string, ttlSeconds: number, compute: () => Promise<T>, newest: string): Promise<Cached<T>> {
    const store = this.store();
    const hit = await this.read(store, key);
    this.lookups.inc({ store, result: hit === undefined ? 'miss' : 'hit' });
    if (hit !== undefined) return { value: JSON.parse(hit) as T, cached: true };
    const value = await compute();
    // Not awaited: the answer need not wait for Redis to store it. Commands on
    // the connection stay in order, so a later read of this key sees the write.
    void this.write(store, key, JSON.stringify(value), ttlSeconds, newest);
    return { value, cached: false };
  }

  private store(): Store {
    return this.redis && this.redis.status === 'ready' ? 'redis' : 'memory';
  }

  private async read(store: Store, key: string): Promise<string | undefined> {
    if (store === 'memory') return this.memory.get(key);
    try {
      return (await this.redis!.get(key)) ?? undefined;
    } catch (error) {
      // Redis failed mid-flight: answer from the source; the next call falls back to memory.
      this.logger.debug({ err: error }, 'cache read failed');
      return undefined;
    }
  }

  private async write(store: Store, key: string, value: string, ttlSeconds: number, newest: string): Promise<void> {
    const now = Date.now();
    if (store === 'memory') {
      this.memory.set(key, value, { ttl: ttlSeconds * 1000 });
      this.newestLocal.set(newest, now);
      return;
    }
    try {
      // The answer's age is told in whole seconds: the newest-answer time need not be written more than once a second.
      const due = now - (this.newestWritten.get(newest) ?? 0) >= 1_000;
      if (due) this.newestWritten.set(newest, now);
      await Promise.all([this.redis!.set(key, value, 'EX', ttlSeconds), due ? this.redis!.set(newest, String(now), 'EX', ttlSeconds) : undefined]);
    } catch (error) {
      this.logger.debug({ err: error }, 'cache write failed');
    }
  }
}
