import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseTimestamp, readPointsCsv, runDetectCli } from '../src/anomalies/detect-cli.js';
import { BaselineDetector, STREAM_SCORING } from '../src/anomalies/detectors/index.js';

const dir = await mkdtemp(join(tmpdir(), 'mh-detect-'));
after(() => rm(dir, { recursive: true, force: true }));

async function csv(name: string, lines: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

/** Collects what the CLI prints. */
function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

const START = Date.UTC(2024, 0, 1);
const rows = (n: number, value: (i: number) => number) =>
  Array.from({ length: n }, (_, i) => `${new Date(START + i * 3_600_000).toISOString()},${value(i)}`);

describe('metrics-hub detect', () => {
  test('prints one score in [0, 1] per data row, from the same detector the evaluator uses', async () => {
    const data = rows(120, (i) => (i === 119 ? 250 : 100 + (i % 3)));
    const file = await csv('spike.csv', ['timestamp,value', ...data]);
    const out = sink();
    await runDetectCli(file, { output: out.stream });
    const lines = out.text().trimEnd().split('\n');
    assert.equal(lines[0], 'timestamp,value,score');
    assert.equal(lines.length, 121);
    const scores = lines.slice(1).map((l) => Number(l.split(',')[2]));
    for (const s of scores) assert.ok(s >= 0 && s <= 1, `score ${s}`);
    assert.ok(scores[119]! > 0.9, `the spike scores ${scores[119]}`);
    assert.ok(Math.max(...scores.slice(0, 119)) < 0.5);

    const detector = new BaselineDetector(STREAM_SCORING);
    const direct = data.map((line) => {
      const [t, v] = line.split(',');
      return Number(detector.push({ time: Date.parse(t!), value: Number(v) }).score.toFixed(6));
    });
    assert.deepEqual(scores, direct);
  });

  test('a clock step backwards is scored in file order, not rejected', async () => {
    const lines = rows(40, (i) => 100 + (i % 3));
    const file = await csv('clock-step.csv', ['timestamp,value', ...lines.slice(0, 30), ...lines.slice(25)]);
    const out = sink();
    await runDetectCli(file, { output: out.stream });
    assert.equal(out.text().trimEnd().split('\n').length, 1 + 45);
  });

  test('a file without a header is read from its first line', async () => {
    const file = await csv('plain.csv', rows(3, () => 1));
    const points = [];
    for await (const p of readPointsCsv(file)) points.push(p);
    assert.deepEqual(points.map((p) => p.line), [1, 2, 3]);
  });

  test('a malformed value names the file and line', async () => {
    const lines = ['timestamp,value', ...rows(5, () => 1)];
    lines[4] = '2024-01-01T03:00:00.000Z,abc';
    const file = await csv('bad-value.csv', lines);
    await assert.rejects(runDetectCli(file, { output: sink().stream }), { message: `${file}:5: value 'abc' is not a number` });
  });

  test('a missing column and a bad timestamp are reported with their line', async () => {
    const missing = await csv('missing.csv', ['timestamp,value', '2024-01-01T00:00:00Z,1', '2024-01-01T01:00:00Z']);
    await assert.rejects(runDetectCli(missing, { output: sink().stream }), { message: `${missing}:3: expected 2 columns (timestamp,value), got 1` });
    const badTime = await csv('time.csv', ['timestamp,value', 'yesterday,1']);
    await assert.rejects(runDetectCli(badTime, { output: sink().stream }), { message: `${badTime}:2: 'yesterday' is not a timestamp (use ISO 8601 or epoch seconds)` });
  });

  test('a broken CSV quote is reported with the file', async () => {
    const file = await csv('quote.csv', ['timestamp,value', '2024-01-01T00:00:00Z,"1']);
    await assert.rejects(runDetectCli(file, { output: sink().stream }), (error: Error) => error.message.startsWith(`${file}:`));
  });

  test('a missing file is an error naming it', async () => {
    await assert.rejects(runDetectCli(join(dir, 'nope.csv'), { output: sink().stream }), /^Error: cannot read .*nope\.csv: ENOENT/);
  });

  test('timestamps: NAB style is UTC, epoch seconds and milliseconds are accepted', () => {
    assert.equal(parseTimestamp('2014-04-10 07:15:00'), Date.UTC(2014, 3, 10, 7, 15));
    assert.equal(parseTimestamp('2014-04-10 07:15:00.000000'), Date.UTC(2014, 3, 10, 7, 15));
    assert.equal(parseTimestamp('2014-04-10T09:15:00+02:00'), Date.UTC(2014, 3, 10, 7, 15));
    assert.equal(parseTimestamp('1397114100'), Date.UTC(2014, 3, 10, 7, 15));
    assert.equal(parseTimestamp('1397114100000'), Date.UTC(2014, 3, 10, 7, 15));
    assert.ok(Number.isNaN(parseTimestamp('soon')));
  });
});
