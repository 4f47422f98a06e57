import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  normalise,
  optimiseThreshold,
  probationRows,
  referenceScores,
  scaledSigmoid,
  scoreFile,
  truePositiveWeight,
  windowRows,
  type LabelledFile,
} from '../../bench/anomaly/nab/scorer.js';
import { parseTimestamp } from '../src/anomalies/detect-cli.js';

const close = (actual: number, expected: number, digits = 9) =>
  assert.ok(Math.abs(actual - expected) < 10 ** -digits, `${actual} is not ${expected}`);

/** 100 rows, probation 15, windows at rows 40..49 and 80..89. */
const file: LabelledFile = { name: 'hand.csv', rows: 100, windows: [[40, 49], [80, 89]] };
const detectedAt = (rows: number, ...at: number[]) => Array.from({ length: rows }, (_, i) => at.includes(i));

describe('NAB scorer', () => {
  test('probation is 15% of the rows, at most 750', () => {
    assert.equal(probationRows(100), 15);
    assert.equal(probationRows(4032), 604);
    assert.equal(probationRows(22695), 750);
  });

  test('scaled sigmoid and true-positive weights', () => {
    close(scaledSigmoid(0), 0);
    close(scaledSigmoid(-1), 0.9866142981514305);
    close(truePositiveWeight(40, 40, 49), 1);
    close(truePositiveWeight(45, 40, 49), 0.8597925669097837);
    assert.ok(truePositiveWeight(49, 40, 49) < 0.25);
  });

  test('the null detector scores 0 and the perfect detector 100', () => {
    const none = scoreFile(file, detectedAt(100));
    assert.equal(none.raw, -2);
    assert.equal(normalise(none.raw, 2), 0);
    const perfect = scoreFile(file, detectedAt(100, 40, 80));
    close(perfect.raw, 2);
    close(normalise(perfect.raw, 2), 100);
    assert.deepEqual(referenceScores(2), { null: -2, perfect: 2 });
  });

  test('hand-computed file: probation, late detection, repeated detection, three false positives, a miss', () => {
    // Row 5 is in probation (ignored); row 45 is halfway into window 1 (S(-0.5)/S(-1)); row 46
    // adds nothing; row 20 precedes every window (-0.11); rows 50 and 59 follow window 1 by
    // 1 and 10 rows (0.11 * S(1/9) and 0.11 * S(10/9)); window 2 is missed (-1).
    const result = scoreFile(file, detectedAt(100, 5, 20, 45, 46, 50, 59));
    const expected = 0.8597925669097837 - 0.11 - 0.029793183036839352 - 0.10915277288169534 - 1;
    close(result.raw, expected);
    assert.deepEqual({ ...result, raw: 0 }, { raw: 0, detectedWindows: 1, missedWindows: 1, falsePositives: 3 });
    close(normalise(result.raw, 2), 40.271165274781225, 7);
  });

  test('the optimised threshold maximises the corpus score and agrees with direct scoring', () => {
    // Scores: 0.9 at the start of window 1, 0.6 at a false positive, 0.5 inside window 2.
    const scores = Array.from({ length: 100 }, (_, i) => (i === 40 ? 0.9 : i === 30 ? 0.6 : i === 85 ? 0.5 : 0.1));
    const best = optimiseThreshold([{ file, scores }]);
    assert.equal(best.threshold, 0.5);
    const direct = scoreFile(file, scores.map((s) => s >= best.threshold));
    close(best.raw, direct.raw);
    close(best.score, normalise(direct.raw, 2));
    // Lowering the threshold to 0.1 would add 80 false positives; raising it to 0.9 misses window 2.
    assert.ok(best.raw > scoreFile(file, scores.map((s) => s >= 0.9)).raw);
    assert.ok(best.raw > scoreFile(file, scores.map((s) => s >= 0.1)).raw);
  });

  test('a detector that never fires keeps the null score under optimisation', () => {
    const best = optimiseThreshold([{ file, scores: new Array(100).fill(0) }]);
    assert.equal(best.score, 0);
    assert.equal(best.threshold, Infinity);
  });

  test('windows given as timestamps map to the rows they name', () => {
    const times = ['2014-04-10 07:00:00', '2014-04-10 07:05:00', '2014-04-10 07:10:00', '2014-04-10 07:15:00'].map(parseTimestamp);
    const windows = [[parseTimestamp('2014-04-10 07:05:00.000000'), parseTimestamp('2014-04-10 07:10:00.000000')]] as const;
    assert.deepEqual(windowRows('x.csv', times, windows), [[1, 2]]);
    assert.throws(() => windowRows('x.csv', times, [[parseTimestamp('2015-01-01 00:00:00'), times[1]!]]), /x\.csv: window \[2015-01-01T00:00:00\.000Z/);
  });

  test('a score list of the wrong length is rejected', () => {
    assert.throws(() => scoreFile(file, detectedAt(99)), /hand\.csv: 99 detections for 100 rows/);
  });
});
