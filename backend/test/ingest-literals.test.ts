import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { dollarQuoted } from '../src/ingest/store.js';
import { seededRandom } from './support/seeded-random.js';

/**
 * The batch's last statement travels as text with its COMMIT (EXECUTE with
 * literal parameters), so a literal must read back as exactly its text
 * whatever the text holds: PostgreSQL itself parses each one here.
 */
describe('dollarQuoted: PostgreSQL reads every literal back as its text', () => {
  let client: pg.Client;
  before(async () => {
    client = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
  });
  after(() => client.end());

  const roundTrip = async (text: string) => {
    const result = await client.query<{ text: string }>(`SELECT ${dollarQuoted(text)}::text AS text`);
    assert.equal(result.rows[0]!.text, text, `literal ${JSON.stringify(dollarQuoted(text).slice(0, 80))}`);
  };

  test('texts holding the tags, or ending in a prefix of one', async () => {
    for (const text of ['', '$', '$mh', 'x$mh', '$mh$', 'a$mh$b', '$mh$$mh0$', 'x$mh0', '$mh$$mh0$$mh1', "'; DROP TABLE events; --", '\\', 'é ✓ \u2028']) await roundTrip(text);
  });

  test('random texts over the characters that matter', async () => {
    const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
    console.log(`dollarQuoted seed ${seed} (SEED=${seed} to repeat)`);
    const random = seededRandom(seed);
    const alphabet = ['$', 'm', 'h', '0', '1', "'", '\\', '"', 'x'];
    for (let i = 0; i < 300; i += 1) {
      const length = Math.floor(random() * 12);
      let text = '';
      for (let j = 0; j < length; j += 1) text += alphabet[Math.floor(random() * alphabet.length)];
      await roundTrip(text);
    }
  });
});
