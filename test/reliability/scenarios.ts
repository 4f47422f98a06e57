/**
 * The scenarios that need no load around them: bad input (fast-check),
 * tenant isolation, key revocation, and the configured limits.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { CatalogError, parseCatalog } from '../../backend/src/catalog/load.js';
import type { Client } from './client.js';
import { frameTotal, order, seeded, totalsQuery, type Org } from './load.js';

export interface Findings {
  failures: string[];
  leaks: number;
  checks: number;
}

const isReason = (body: unknown) => typeof (body as { error?: unknown } | null)?.error === 'string' && (body as { error: string }).error.length > 0;

/**
 * A valid order event with some fields replaced by arbitrary values. Everything comes
 * from fast-check (no Math.random), so `--seed` replays the same bodies.
 */
const mutatedEvent = fc
  .tuple(fc.record({ id: fc.string(), type: fc.string(), occurredAt: fc.string(), value: fc.anything(), attributes: fc.anything() }, { requiredKeys: [] }), fc.boolean(), fc.uuid(), fc.integer())
  .map(([overrides, keepValid, id, seed]) => ({ ...(keepValid ? order(`fuzz-${id}`, seeded(seed)) : {}), ...overrides }));

const eventsBody = fc.oneof(
  fc.anything(),
  fc.record({ events: fc.anything() }),
  fc.record({ events: fc.array(fc.oneof(mutatedEvent, fc.anything()), { maxLength: 20 }) }),
);

const queryItem = fc.record(
  {
    refId: fc.oneof(fc.string(), fc.constant('A')),
    metric: fc.oneof(fc.constantFrom('rel_orders', 'rel_order_value', 'rel_hanging', 'nope'), fc.string()),
    aggregation: fc.oneof(fc.constantFrom('sum', 'count', 'avg', 'p99', 'rate'), fc.string()),
    groupBy: fc.oneof(fc.array(fc.constantFrom('channel', 'market', 'organization_id', "channel'; DROP TABLE events;--")), fc.anything()),
    filters: fc.oneof(
      fc.array(fc.record({ dimension: fc.oneof(fc.constantFrom('channel', 'organization_id'), fc.string()), op: fc.oneof(fc.constantFrom('eq', 'neq', 'in', 'not_in'), fc.string()), value: fc.anything() })),
      fc.anything(),
    ),
    format: fc.oneof(fc.constantFrom('timeseries', 'table', 'kpi'), fc.string()),
  },
  { requiredKeys: [] },
);

const queryBody = fc.oneof(
  fc.anything(),
  fc.record(
    {
      from: fc.oneof(fc.constant(new Date(Date.now() - 86_400_000).toISOString()), fc.anything()),
      to: fc.oneof(fc.constant(new Date().toISOString()), fc.anything()),
      intervalMs: fc.oneof(fc.constant(3_600_000), fc.anything()),
      maxDataPoints: fc.anything(),
      queries: fc.oneof(fc.array(queryItem, { maxLength: 5 }), fc.anything()),
    },
    { requiredKeys: [] },
  ),
);

/**
 * Fuzzes /events and /query bodies: always 200 or a 4xx with a reason, and the org holds
 * exactly what was accepted. `storedEvents` counts the organization's raw events of every
 * type and time: a fuzzed event the API rightly accepts may be of a custom type or months old.
 */
export async function fuzzApi(client: Client, org: Org, runs: number, seed: number, storedEvents: () => Promise<number>): Promise<Findings> {
  const failures: string[] = [];
  let accepted = 0;
  let checks = 0;
  const check = async (kind: 'events' | 'query', input: unknown, raw: boolean) => {
    checks += 1;
    const body = raw ? String(input) : JSON.stringify(input) ?? 'null';
    const answer = await client.send(`fuzz-${kind}`, `/api/v1/${kind}`, { key: org.key, body });
    if (answer.status >= 500) failures.push(`${kind} ${body.slice(0, 200)} -> ${answer.status}`);
    else if (answer.status >= 400 && !isReason(answer.body)) failures.push(`${kind} ${body.slice(0, 200)} -> ${answer.status} without a reason`);
    else if (answer.status === 200 && kind === 'events') {
      const result = answer.body as { accepted: number; rejected: Array<{ error: string }> };
      accepted += result.accepted;
      if (result.rejected.some((r) => !r.error)) failures.push(`events rejected without a reason: ${body.slice(0, 200)}`);
    } else if (answer.status === 200 && kind === 'query') {
      const results = Object.values((answer.body as { results: Record<string, { status: number; error?: string }> }).results);
      if (results.some((r) => r.status !== 200 && !r.error)) failures.push(`query result failed without a reason: ${body.slice(0, 200)}`);
    }
  };
  const params = { numRuns: runs, seed, endOnFailure: true };
  await fc.assert(fc.asyncProperty(eventsBody, (input) => check('events', input, false)), params);
  await fc.assert(fc.asyncProperty(fc.string(), (input) => check('events', input, true)), params);
  await fc.assert(fc.asyncProperty(queryBody, (input) => check('query', input, false)), params);
  await fc.assert(fc.asyncProperty(fc.string(), (input) => check('query', input, true)), params);
  const stored = await storedEvents();
  if (stored !== accepted) failures.push(`fuzzed organization holds ${stored} events, the API reported ${accepted} accepted (partial write; replay with --seed ${seed})`);
  return { failures, leaks: 0, checks };
}

/** Catalog files: parseCatalog either returns a catalog or throws a CatalogError naming the problems. */
export function fuzzCatalog(catalogFile: string, runs: number, seed: number): Findings {
  const failures: string[] = [];
  const lines = fs.readFileSync(catalogFile, 'utf8').split('\n');
  let checks = 0;
  const check = (text: string) => {
    checks += 1;
    try {
      parseCatalog(text, 'fuzz.yaml');
    } catch (error) {
      if (!(error instanceof CatalogError) || error.problems.length === 0) failures.push(`catalog ${JSON.stringify(text.slice(0, 200))} -> ${String(error)}`);
    }
  };
  const mutatedLines = fc
    .array(fc.tuple(fc.nat(lines.length), fc.oneof(fc.constant(null), fc.string())), { maxLength: 5 })
    .map((edits) => {
      const copy = [...lines];
      for (const [at, text] of edits) {
        if (text === null) copy.splice(at, 1);
        else copy.splice(at, 0, text);
      }
      return copy.join('\n');
    });
  const params = { numRuns: runs * 4, seed, endOnFailure: true };
  fc.assert(fc.property(fc.string(), (text) => check(text)), params);
  fc.assert(fc.property(fc.anything(), (value) => check(stringify(value) ?? '')), params);
  fc.assert(fc.property(mutatedLines, (text) => check(text)), params);
  return { failures, leaks: 0, checks };
}

/** Values of the `channel` label in every frame of a query answer. */
function channels(body: unknown): string[] {
  const out: string[] = [];
  for (const result of Object.values((body as { results?: Record<string, { frames?: Array<{ schema: { fields: Array<{ labels?: Record<string, string> }> } }> }> }).results ?? {})) {
    for (const frame of result.frames ?? []) for (const field of frame.schema.fields) if (field.labels?.channel) out.push(field.labels.channel);
  }
  return out;
}

/**
 * Each organization's channels are its own (`iso-<org>-n`). Random queries
 * with group-bys and filters naming other organizations' channels, or
 * crafted to look like tenancy parameters, must only ever show the asker's own.
 */
export async function isolation(client: Client, orgs: Org[], queries: number, seed: number): Promise<Findings> {
  const rand = seeded(seed);
  const failures: string[] = [];
  let leaks = 0;
  const own = new Map<string, Set<string>>();
  for (const org of orgs) {
    const names = new Set(Array.from({ length: 4 }, (_, n) => `iso-${org.name}-${n}`));
    own.set(org.name, names);
    const events = Array.from({ length: 40 }, (_, i) => ({ ...order(`${org.name}-iso-${i}`, rand), attributes: { channel: [...names][i % 4]!, market: 'de' } }));
    const answer = await client.send('ingest', '/api/v1/events', { key: org.key, json: { events } });
    if (answer.status !== 200) failures.push(`isolation seed batch answered ${answer.status}`);
    for (const event of events) org.truth.set(event.id, event.value);
  }
  const allNames = orgs.flatMap((org) => [...own.get(org.name)!]);
  let checks = 0;
  for (let i = 0; i < queries; i += 1) {
    const asker = orgs[Math.floor(rand() * orgs.length)]!;
    const victim = orgs.find((org) => org !== asker && rand() < 0.7) ?? orgs.find((org) => org !== asker)!;
    const victimNames = [...own.get(victim.name)!];
    const filters = [
      [{ dimension: 'channel', op: 'in', value: victimNames }],
      [{ dimension: 'channel', op: 'eq', value: victimNames[0] }],
      [{ dimension: 'channel', op: 'not_in', value: [...own.get(asker.name)!] }],
      [{ dimension: 'organization_id', op: 'eq', value: victim.id }],
      [],
    ][Math.floor(rand() * 5)]!;
    const groupBy = [['channel'], ['channel', 'market'], ['organization_id'], []][Math.floor(rand() * 4)]!;
    const query = totalsQuery('rel_orders', { groupBy, filters });
    const extra = rand() < 0.3 ? { organizationId: victim.id, orgId: victim.id, organization: victim.name } : {};
    const answer = await client.send('isolation-query', '/api/v1/query', { key: asker.key, json: { ...query, ...extra } });
    checks += 1;
    if (answer.status >= 500) failures.push(`isolation query answered ${answer.status}`);
    const seen = channels(answer.body).filter((name) => allNames.includes(name));
    const foreign = seen.filter((name) => !own.get(asker.name)!.has(name));
    leaks += foreign.length;
    if (foreign.length > 0) failures.push(`${asker.name}'s key saw ${victim.name}'s channels ${foreign.join(', ')}`);
    const wantsOnlyVictim = filters.length > 0 && filters[0]!.dimension === 'channel' && filters[0]!.op !== 'not_in';
    const total = answer.status === 200 ? frameTotal(answer.body) : undefined;
    if (wantsOnlyVictim && total !== undefined && total > 0) {
      leaks += 1;
      failures.push(`${asker.name}'s key counted ${total} events filtered on ${victim.name}'s channels`);
    }
  }
  return { failures, leaks, checks };
}

const run = promisify(execFile);

/** A key revoked with the CLI is refused on the very next request, on every backend. */
export async function revocation(client: Client, backends: string[], cli: string, env: NodeJS.ProcessEnv, org: Org, createKey: () => Promise<{ key: string; prefix: string }>): Promise<Findings> {
  const failures: string[] = [];
  const { key, prefix } = await createKey();
  for (const baseUrl of backends) {
    const before = await client.once(baseUrl, 'revocation', '/api/v1/whoami', { key });
    if (before.status !== 200) failures.push(`fresh key answered ${before.status} on ${baseUrl}`);
  }
  await run(process.execPath, [cli, 'keys', 'revoke', prefix], { env, cwd: path.dirname(path.dirname(cli)) });
  for (const baseUrl of backends) {
    const after = await client.once(baseUrl, 'revocation', '/api/v1/events', { key, json: { events: [order(`${org.name}-revoked`, seeded(1))] } });
    if (after.status !== 401) failures.push(`revoked key answered ${after.status} on ${baseUrl}`);
  }
  return { failures, leaks: failures.length, checks: backends.length * 2 };
}

/** The limits of a backend started with small MAX_BODY_BYTES, INGEST_MAX_EVENTS, QUERY_MAX_RANGE_DAYS and RATE_LIMIT_PER_MINUTE. */
export async function limits(client: Client, baseUrl: string, org: Org, config: { maxBodyBytes: number; maxEvents: number; maxRangeDays: number; perMinute: number }): Promise<Findings> {
  const failures: string[] = [];
  const rand = seeded(7);
  const expect = (what: string, ok: boolean, detail: unknown) => {
    if (!ok) failures.push(`${what}: ${JSON.stringify(detail).slice(0, 300)}`);
  };
  const big = await client.once(baseUrl, 'limits', '/api/v1/events', { key: org.key, json: { events: [{ ...order(`${org.name}-big`, rand), attributes: { note: 'x'.repeat(config.maxBodyBytes) } }] } });
  expect('body over MAX_BODY_BYTES -> 413 with a reason', big.status === 413 && isReason(big.body), big);
  const many = Array.from({ length: config.maxEvents + 1 }, (_, i) => order(`${org.name}-many-${i}`, rand));
  const batch = await client.once(baseUrl, 'limits', '/api/v1/events', { key: org.key, json: { events: many } });
  expect('batch over INGEST_MAX_EVENTS -> 413 with a reason', batch.status === 413 && isReason(batch.body), batch);
  const range = await client.once(baseUrl, 'limits', '/api/v1/query', {
    key: org.key,
    json: { ...totalsQuery(), from: new Date(Date.now() - (config.maxRangeDays + 5) * 86_400_000).toISOString() },
  });
  const rangeResult = (range.body as { results?: Record<string, { status: number; error?: string }> }).results?.A;
  expect('range over QUERY_MAX_RANGE_DAYS -> per-query error', range.status === 200 && rangeResult?.status !== 200 && /range|days/i.test(rangeResult?.error ?? ''), range.body);
  const stored = await client.once(baseUrl, 'limits', '/api/v1/query', { key: org.key, json: totalsQuery() });
  expect('refused batches wrote nothing', frameTotal(stored.body) === 0, stored.body);
  let limited: Awaited<ReturnType<Client['once']>> | undefined;
  for (let i = 0; i < config.perMinute + 5 && !limited; i += 1) {
    const answer = await client.once(baseUrl, 'limits', '/api/v1/whoami', { key: org.key });
    if (answer.status === 429) limited = answer;
  }
  expect('over RATE_LIMIT_PER_MINUTE -> 429 with Retry-After', limited !== undefined && Number(limited.headers.get('retry-after')) >= 1 && isReason(limited.body), limited?.body ?? 'never limited');
  return { failures, leaks: 0, checks: 5 };
}
