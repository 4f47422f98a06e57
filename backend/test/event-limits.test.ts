import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_EVENT_LIMITS, eventLimitProblem } from '../src/ingest/limits.js';

const event = (attributes: Record<string, unknown>) => ({ id: 'e-1', type: 'order.created', occurredAt: '2026-01-01T00:00:00Z', attributes });

test('a multi-megabyte string is refused by its length, naming the limit', () => {
  assert.match(eventLimitProblem(event({ big: 'x'.repeat(2_000_000) }), DEFAULT_EVENT_LIMITS) ?? '', /^attributes\.big: a string of 2000000 characters; the limit is 8192 \(INGEST_MAX_STRING_LENGTH\)$/);
});

test('strings each within their limit but together over the event size are refused by the bytes of the event as JSON', () => {
  const attributes = Object.fromEntries(Array.from({ length: 10 }, (_, index) => [`a${index}`, 'é'.repeat(4_000)]));
  const bytes = Buffer.byteLength(JSON.stringify(event(attributes)));
  assert.ok(bytes > DEFAULT_EVENT_LIMITS.maxEventBytes);
  assert.equal(eventLimitProblem(event(attributes), DEFAULT_EVENT_LIMITS), `event: ${bytes} bytes as JSON; the limit is 65536 bytes per event (INGEST_MAX_EVENT_BYTES)`);
});

test('an event within every limit has no problem', () => {
  assert.equal(eventLimitProblem(event({ channel: 'web', nested: { deep: ['a', 'b'] } }), DEFAULT_EVENT_LIMITS), undefined);
});
