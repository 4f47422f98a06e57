import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { valuesAtRunTime } from '../src/sources/adapters/run-time-values.js';
import { statementName } from '../src/sources/adapters/statement-names.js';

test('a statement is named by its prefix and the hash of its text, remembered per text', () => {
  const text = `SELECT ${'x, '.repeat(500)}1 FROM t WHERE a = $1::uuid`;
  const hash = createHash('sha1').update(text).digest('hex').slice(0, 16);
  assert.equal(statementName('events_totals_', text), `events_totals_${hash}`);
  // A text built again (another string of the same characters) gets the same name, under each prefix its own.
  assert.equal(statementName('events_totals_', `${text.slice(0, 10)}${text.slice(10)}`), `events_totals_${hash}`);
  assert.equal(statementName('events_dimension_', text), `events_dimension_${hash}`);
  assert.notEqual(statementName('events_totals_', `${text} `), `events_totals_${hash}`);
  for (let index = 0; index < 1_100; index += 1) statementName('events_totals_', `SELECT ${index}`);
  assert.equal(statementName('events_totals_', text), `events_totals_${hash}`, 'still right after the memory was cleared');
});

test('values at run time: a rewritten text is remembered, and the same as rewriting it again', () => {
  const text = 'a = $1::uuid AND b = ANY($2::text[]) LIMIT $3';
  assert.equal(valuesAtRunTime(text), 'a = (SELECT $1::uuid)::uuid AND b = ANY((SELECT $2::text[])::text[]) LIMIT $3');
  assert.equal(valuesAtRunTime(`${text.slice(0, 5)}${text.slice(5)}`), valuesAtRunTime(text));
  assert.equal(valuesAtRunTime(text, 2), 'a = (SELECT $3::uuid)::uuid AND b = ANY((SELECT $4::text[])::text[]) LIMIT $3', 'offsets are not remembered');
});
