import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { DEFAULT_EVENT_LIMITS, type PerEventLimits } from '../src/ingest/limits.js';
import { BUILT_IN_TYPES, fastParseEvent, parseEvent, parseEventBySchema, type EventLimits } from '../src/ingest/schema.js';
import { isoTimeMs } from '../src/ingest/schema-fast.js';
import { seededRandom } from './support/seeded-random.js';

/**
 * parseEvent's fast path (schema-fast.ts) against the zod schema alone, on seeded random events: every answer,
 * accepted event or error text, must be the same, and the well-formed events must take the fast path.
 */
const SEED = Number(process.env.FAST_PATH_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`ingest fast path tests: seed ${SEED} (replay with FAST_PATH_SEED=${SEED})`);

const NOW = Date.parse('2026-03-01T12:00:00Z');
const DISTINCT = new Map([
  ['message.sent', ['contactId']],
  ['message.delivered', ['contactId']],
  ['bot.response', ['userId']],
  ['conversation.status_changed', ['userId']],
  ['custom.signup', ['userId', 'plan']],
]);
const LIMITS: EventLimits = { now: NOW, maxFutureSkewSeconds: 300, retentionDays: 400, distinct: DISTINCT };
const TIGHT: PerEventLimits = { maxAttributes: 4, maxKeyLength: 8, maxStringLength: 24, maxEventBytes: 260 };

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (random: Random, p: number) => random() < p;
const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Strings that probe trimming, emptiness, lengths, NUL, lone and paired surrogates, non-ASCII bytes. */
function oddString(random: Random): string {
  return pick(random, [
    '',
    ' ',
    '  x  ',
    'x'.repeat(199),
    'x'.repeat(200),
    'x'.repeat(201),
    ` ${'y'.repeat(200)} `,
    'a\u0000b',
    'lone \uD800 high',
    'lone \uDC00 low',
    'pair \uD83D\uDE00 ok',
    'é'.repeat(30),
    '"quoted\\\n"',
    'x'.repeat(9000),
  ]);
}

function wellFormedTime(random: Random): string {
  const ms = NOW - Math.floor(random() * 300 * 86_400_000);
  const iso = new Date(ms).toISOString();
  return pick(random, [iso, iso.replace('.', ',').replace(/,\d+/, ''), iso.replace('Z', '+00:00'), `${iso.slice(0, 19)}.${pad(Math.floor(random() * 1e6), 6)}+02:30`]);
}

/** Times in and out of zod's pattern: leap days, month and hour edges, fractions of any length, offsets, no zone. */
function anyTime(random: Random): string {
  const year = pick(random, [1900, 1999, 2000, 2024, 2025, 2026, 2100, 400, 4, 0]);
  const month = 1 + Math.floor(random() * 13);
  const day = 1 + Math.floor(random() * 31);
  const hour = Math.floor(random() * 25);
  const minute = Math.floor(random() * 61);
  const second = Math.floor(random() * 61);
  const fraction = chance(random, 0.5) ? `.${pad(Math.floor(random() * 1e9), 9).slice(0, 1 + Math.floor(random() * 9))}` : '';
  const zone = pick(random, ['Z', '+01:00', '-05:30', '+23:59', '-24:00', '', 'z', '+0100']);
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${fraction}${zone}`;
}

/** Attributes a built-in type's rule expects, well-formed. */
function attributesFor(type: string, random: Random): Record<string, unknown> {
  const id = () => `id-${Math.floor(random() * 1000)}`;
  switch (type) {
    case 'workflow.finished':
      return { status: pick(random, ['SUCCESS', 'FAILED', 'FAILED_SAFETY_LIMIT']), workflowId: id(), source: pick(random, ['crm', 'shop']) };
    case 'message.sent':
    case 'message.delivered':
    case 'message.read':
    case 'message.received':
      return { messageId: id(), channel: pick(random, ['web', 'app']), contactId: `c-${Math.floor(random() * 50)}` };
    case 'call.finished':
      return { direction: pick(random, ['inbound', 'outbound']), status: pick(random, ['answered', 'missed']), agentId: id() };
    case 'conversation.status_changed':
      return { from: 'open', to: pick(random, ['pending', 'done', 'spam']), conversationId: id(), satisfaction: 1 + Math.floor(random() * 5), userId: id() };
    case 'conversation.first_response':
      return { conversationId: id() };
    case 'agent.status_changed':
      return { agentId: id(), status: pick(random, ['online', 'away', 'offline']) };
    case 'bot.response':
      return { botId: id(), success: chance(random, 0.9), tokens: Math.floor(random() * 500), cost: random(), fallback: false, knowledgeBase: 'hit', userId: id() };
    case 'bot.conversation_started':
      return { conversationId: id(), botId: id() };
    case 'bot.conversation_ended':
      return { conversationId: id(), botId: id(), status: pick(random, ['resolved', 'escalated', 'abandoned', 'failed']), messages: 4, satisfaction: 5 };
    case 'contact.created':
      return { contactId: id() };
    case 'contact.opted_out':
      return { contactId: id(), channel: 'sms', initiatedBy: pick(random, ['contact', 'agent', 'system']) };
    default:
      return { channel: pick(random, ['web', 'pos']), market: pick(random, ['de', 'fr']), plan: 'pro', userId: id() };
  }
}

function wellFormedEvent(random: Random, index: number): Record<string, unknown> {
  const type = pick(random, [...BUILT_IN_TYPES, 'order.created', 'custom.signup', 'invoice.paid']);
  const event: Record<string, unknown> = { id: `evt-${index}`, type, occurredAt: wellFormedTime(random), attributes: attributesFor(type, random) };
  if (type === 'conversation.first_response' || chance(random, 0.6)) event.value = Math.round(random() * 1e5) / 100;
  return event;
}

/** Values of every JSON kind and some a direct caller could pass (undefined, Date, bigint, class instances). */
function oddValue(random: Random, depth = 0): unknown {
  const kind = Math.floor(random() * (depth > 18 ? 9 : 14));
  switch (kind) {
    case 0:
      return oddString(random);
    case 1:
      return pick(random, [0, -0, -1, 1.5, 5, 6, 1e9, 1e9 + 1, 1e12, 1e12 + 1, -1e12 - 1, NaN, Infinity, -Infinity, 2 ** 53]);
    case 2:
      return pick(random, [true, false]);
    case 3:
      return null;
    case 4:
      return undefined;
    case 5:
      return pick(random, ['web', 'SUCCESS', 'open', 'hit', 'online', 'contact']);
    case 6:
      return `v-${Math.floor(random() * 10)}`;
    case 7:
      return pick(random, [new Date(NOW), 10n, new (class Thing {})(), () => 1]);
    case 8:
      return JSON.parse('{"__proto__": {"x": 1}}');
    default: {
      if (chance(random, 0.4)) {
        const array: unknown[] = Array.from({ length: Math.floor(random() * 4) }, () => oddValue(random, depth + 1));
        if (chance(random, 0.1)) array[array.length + 1] = 'after a hole';
        return array;
      }
      // Nesting near MAX_ATTRIBUTE_DEPTH (16).
      let nested: unknown = oddValue(random, depth + 1);
      const levels = chance(random, 0.3) ? 14 + Math.floor(random() * 4) : 1;
      for (let level = 0; level < levels; level += 1) nested = { [pick(random, ['k', 'key', 'a-much-longer-key-name'])]: nested };
      return nested;
    }
  }
}

const EDGES = [0, -0, 1, 5, 6, -1, 1.5, 1e9, 1e9 + 1, 0.5, '', ' ', ' x ', 'x', 'Success', 'SUCCESS ', 'hit', 'miss', 'online', true, false, null, 'FAILED', 'inbound', 'missed', 'spam', 'resolved', 'system'];

/** One to three changes to a well-formed event, each of which may or may not make it invalid. */
function mutate(event: Record<string, unknown>, random: Random): Record<string, unknown> {
  const attributes = { ...(event.attributes as Record<string, unknown>) };
  const mutated: Record<string, unknown> = { ...event, attributes };
  for (let change = 1 + Math.floor(random() * 3); change > 0; change -= 1) {
    const keys = Object.keys(attributes);
    switch (Math.floor(random() * 14)) {
      case 12:
      case 13:
        // An edge of some rule: bounds of whole numbers, enum near-misses, blank and padded ids.
        if (keys.length > 0) attributes[pick(random, keys)] = pick(random, EDGES);
        break;
      case 0:
        mutated[pick(random, ['id', 'type', 'occurredAt', 'value', 'attributes'])] = oddValue(random);
        break;
      case 1:
        mutated.id = oddString(random);
        break;
      case 2:
        mutated.type = pick(random, ['Order.Created', 'ORDER.CREATED', 'order..created', '1order', 'order.created.', 'a'.repeat(101), 'a'.repeat(100), 'x_y.z9', '']);
        break;
      case 3:
        mutated.occurredAt = chance(random, 0.3) ? new Date(NOW + pick(random, [301_000, 299_000, -401 * 86_400_000, -399 * 86_400_000])).toISOString() : anyTime(random);
        break;
      case 4:
        if (keys.length > 0) delete attributes[pick(random, keys)];
        break;
      case 5:
        if (keys.length > 0) attributes[pick(random, keys)] = oddValue(random);
        break;
      case 6:
        attributes[pick(random, ['channel', 'status', 'botId', 'agentId', 'market', 'from', 'to', 'initiatedBy', 'contactId', 'userId', 'plan', 'messageId', 'success'])] = oddValue(random);
        break;
      case 7:
        attributes[pick(random, ['extra', 'x'.repeat(201), 'a\u0000', '\uD800', 'nested'])] = oddValue(random);
        break;
      case 8:
        mutated[pick(random, ['extra', 'note'])] = oddValue(random);
        break;
      case 9:
        mutated.value = pick(random, [-1, -0, 0, null, undefined, 'NaN', 1e12, -1e12, 1e13]);
        break;
      case 10:
        for (let index = 0; index < 1 + Math.floor(random() * 120); index += 1) attributes[`a${index}`] = index;
        break;
      default:
        delete mutated.attributes;
        break;
    }
  }
  // Mostly as JSON.parse gives them (the HTTP path), sometimes as a direct caller built them.
  if (!chance(random, 0.8)) return mutated;
  try {
    return JSON.parse(JSON.stringify(mutated)) as Record<string, unknown>;
  } catch {
    return mutated;
  }
}

/** What a parse returned or threw (a direct caller's bigint makes the size check's JSON.stringify throw). */
function outcome<T>(parse: () => T): T | { threw: string } {
  try {
    return parse();
  } catch (error) {
    return { threw: String(error) };
  }
}

test('the fast path and the zod schema give the same answer, accepted event or error text, for every random event', () => {
  const random = seededRandom(SEED);
  let fast = 0;
  let accepted = 0;
  let rejected = 0;
  for (let index = 0; index < 40_000; index += 1) {
    const limits: EventLimits = chance(random, 0.2) ? { ...LIMITS, perEvent: TIGHT } : LIMITS;
    const input = chance(random, 0.3) ? wellFormedEvent(random, index) : mutate(wellFormedEvent(random, index), random);
    const bySchema = outcome(() => parseEventBySchema(input, limits));
    const where = `event ${index} (seed ${SEED}): ${(() => {
      try {
        return JSON.stringify(input).slice(0, 300);
      } catch {
        return String(input);
      }
    })()}`;
    assert.deepStrictEqual(outcome(() => parseEvent(input, limits)), bySchema, where);
    const quick = fastParseEvent(input, limits);
    if (quick) {
      fast += 1;
      assert.deepStrictEqual({ ok: true, event: quick }, bySchema, where);
    }
    if ('ok' in bySchema && bySchema.ok) accepted += 1;
    else rejected += 1;
  }
  console.log(`  ${accepted} accepted (${fast} by the fast path), ${rejected} rejected`);
  assert.ok(rejected > 10_000 && accepted > 10_000, `both kinds are exercised: ${accepted} accepted, ${rejected} rejected`);
  assert.ok(fast > 0.8 * accepted, `most accepted events take the fast path: ${fast} of ${accepted}`);
});

test('every well-formed event of every type takes the fast path', () => {
  const random = seededRandom(SEED + 1);
  for (let index = 0; index < 5_000; index += 1) {
    const input = JSON.parse(JSON.stringify(wellFormedEvent(random, index))) as Record<string, unknown>;
    const bySchema = parseEventBySchema(input, LIMITS);
    assert.ok(bySchema.ok, `well-formed event ${index} (seed ${SEED}) is valid: ${JSON.stringify(input)}`);
    assert.deepStrictEqual(fastParseEvent(input, LIMITS), bySchema.event, `event ${index} (seed ${SEED})`);
  }
});

test('an event over the size limit by its bytes, with every string within its own limit, is refused with the same text', () => {
  const attributes = Object.fromEntries(Array.from({ length: 10 }, (_, index) => [`a${index}`, 'é'.repeat(4_000)]));
  const input = { id: 'e-1', type: 'order.created', occurredAt: '2026-02-01T00:00:00Z', attributes };
  const bytes = Buffer.byteLength(JSON.stringify(input));
  assert.equal(fastParseEvent(input, LIMITS), undefined);
  assert.deepStrictEqual(parseEvent(input, LIMITS), { ok: false, error: `event: ${bytes} bytes as JSON; the limit is ${DEFAULT_EVENT_LIMITS.maxEventBytes} bytes per event (INGEST_MAX_EVENT_BYTES)` });
  // Near the limit, under it: the bound is over it, the exact size is not, and the fast path still accepts.
  const near = { ...input, attributes: { a: 'x'.repeat(8_000), b: 'y'.repeat(8_000), c: 'z'.repeat(8_000) } };
  assert.ok(fastParseEvent(near, LIMITS));
});

test('isoTimeMs reads every time zod accepts as Date.parse does', () => {
  const random = seededRandom(SEED + 2);
  const zodTime = z.iso.datetime({ offset: true });
  let checked = 0;
  for (let index = 0; index < 50_000; index += 1) {
    const text = anyTime(random);
    if (!zodTime.safeParse(text).success) continue;
    checked += 1;
    assert.equal(isoTimeMs(text), Date.parse(text), `${text} (seed ${SEED})`);
  }
  for (const text of ['0000-01-01T00:00:00Z', '9999-12-31T23:59:59.9999999999999999999+23:59', '2000-02-29T00:00:00.5Z', '1900-02-28T23:59:59.999-00:01', '1970-01-01T00:00:00.0001Z']) {
    assert.equal(isoTimeMs(text), Date.parse(text), text);
  }
  assert.ok(checked > 5_000, `${checked} valid times`);
});
