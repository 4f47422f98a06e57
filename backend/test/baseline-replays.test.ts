import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import { BaselineReplays, type BaselineReplay } from '../src/anomalies/detectors/baseline-replays.js';
import { BaselineDetector, judgedHistoryPoints, type BaselineOptions } from '../src/anomalies/detectors/index.js';
import { seededRandom } from './support/seeded-random.js';

const SEED = Number(process.env.BASELINE_REPLAYS_SEED ?? randomInt(2 ** 31));
console.log(`baseline replay tests: seed ${SEED} (replay with BASELINE_REPLAYS_SEED=${SEED})`);

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 8, 7);

/** The band's replay as it was before replays were kept: one detector, every point, findings by time. */
function replayFresh(options: BaselineOptions, times: number[], values: number[], seedUntil: number): Map<number, number[]> {
  const detector = new BaselineDetector(options);
  const byTime = new Map<number, number[]>();
  times.forEach((time, index) => {
    if (index < seedUntil) return detector.seed({ time, value: values[index]! });
    const finding = detector.push({ time, value: values[index]! });
    if (finding.model !== null) byTime.set(time, [finding.expected, finding.lower, finding.upper, finding.score]);
  });
  return byTime;
}

/** A kept replay's findings, by time, as the fresh replay lists them. */
function findingsOf(replay: BaselineReplay): Map<number, number[]> {
  const byTime = new Map<number, number[]>();
  replay.expected.forEach((expected, index) => {
    if (Number.isNaN(expected)) return;
    byTime.set(replay.times[replay.judgedFrom + index]!, [expected, replay.lower[index]!, replay.upper[index]!, replay.score[index]!]);
  });
  return byTime;
}

/** Hourly orders with a daily and a weekly shape, noise and the odd spike. */
function history(random: () => number, hours: number): { times: number[]; values: number[] } {
  const times: number[] = [];
  const values: number[] = [];
  for (let hour = 0; hour < hours; hour += 1) {
    // Gaps (an hour without events is no point) and fractional sums, as the band gets them.
    if (random() < 0.03) continue;
    const daily = 40 + 30 * Math.sin((2 * Math.PI * (hour % 24)) / 24);
    const weekly = hour % 168 < 120 ? 1 : 0.6;
    const spike = random() < 0.01 ? 5 : 1;
    times.push(T0 + hour * HOUR);
    values.push(Math.round(daily * weekly * spike * (0.8 + 0.4 * random()) * 100) / 100);
  }
  return { times, values };
}

const RULES: BaselineOptions[] = [
  { intervalMs: HOUR, seasons: 6, direction: 'both', warningZ: 4, criticalZ: 6, minVolume: 0, transform: 'none' },
  { intervalMs: HOUR, seasons: 4, direction: 'above', warningZ: 3, criticalZ: 5, minVolume: 5, transform: 'sqrt' },
];

test(`a kept replay, continued or replayed again, finds exactly what a fresh replay finds (seed ${SEED})`, () => {
  const random = seededRandom(SEED);
  const replays = new BaselineReplays();
  const judged = judgedHistoryPoints(HOUR);
  let continued = 0;
  let replayedAgain = 0;
  for (let round = 0; round < 6; round += 1) {
    const options = RULES[round % RULES.length]!;
    const whole = history(random, 700 + Math.floor(random() * 900));
    // The band's seeded part: the points before the first shown, less the judged history.
    const firstShown = Math.floor(whole.times.length * (0.6 + 0.3 * random()));
    const seedUntil = firstShown + 1 - judged;
    let length = firstShown + Math.floor(random() * 20);
    let values = whole.values.slice(0, length);
    let previous: BaselineReplay | undefined;
    for (let step = 0; step < 12; step += 1) {
      const times = whole.times.slice(0, length);
      const replay = replays.replay(`orders\u0000${round}`, options, times, values.slice(), seedUntil);
      assert.deepEqual(findingsOf(replay), replayFresh(options, times, values, seedUntil), `round ${round}, step ${step}`);
      if (previous === replay) continued += 1;
      previous = replay;
      // What a write between two answers does: newer hours complete, an old hour changes, or nothing at all.
      const change = random();
      if (change < 0.5) length = Math.min(whole.times.length, length + 1 + Math.floor(random() * 3));
      else if (change < 0.7) {
        values = values.slice();
        const at = Math.floor(random() * length);
        values[at] = values[at]! + 1;
        const again = replays.replay(`orders\u0000${round}`, options, times, values.slice(), seedUntil);
        assert.notEqual(again, replay, 'a changed point of the history is not continued from');
        assert.deepEqual(findingsOf(again), replayFresh(options, times, values, seedUntil));
        replayedAgain += 1;
        previous = again;
      } else if (change < 0.8) length = Math.max(1, length - 1);
    }
  }
  assert.ok(continued > 0 && replayedAgain > 0, `both paths ran (continued ${continued}, replayed again ${replayedAgain})`);
});

test('a kept replay is continued only from a prefix with the same seeded part and options; the oldest entries go past the capacity', () => {
  const random = seededRandom(SEED ^ 0x5f3759df);
  const { times, values } = history(random, 1_200);
  const replays = new BaselineReplays(2);
  const seedUntil = 1_000 + 1 - judgedHistoryPoints(HOUR);
  const first = replays.replay('a', RULES[0]!, times.slice(0, 1_100), values.slice(0, 1_100), seedUntil);
  // One more complete hour: the same replay, one more finding.
  const longer = replays.replay('a', RULES[0]!, times.slice(0, 1_101), values.slice(0, 1_101), seedUntil);
  assert.equal(longer, first);
  assert.equal(longer.expected.length, 1_101 - seedUntil);
  // Another seeded part (the range shown starts elsewhere), other options, a shorter history: replayed from the start.
  const reseeded = replays.replay('a', RULES[0]!, times.slice(0, 1_101), values.slice(0, 1_101), seedUntil + 1);
  assert.notEqual(reseeded, first);
  assert.deepEqual(findingsOf(reseeded), replayFresh(RULES[0]!, times.slice(0, 1_101), values.slice(0, 1_101), seedUntil + 1));
  const shorter = replays.replay('a', RULES[0]!, times.slice(0, 1_050), values.slice(0, 1_050), seedUntil + 1);
  assert.notEqual(shorter, reseeded);
  assert.deepEqual(findingsOf(shorter), replayFresh(RULES[0]!, times.slice(0, 1_050), values.slice(0, 1_050), seedUntil + 1));
  const otherRule = replays.replay('a', RULES[1]!, times.slice(0, 1_050), values.slice(0, 1_050), seedUntil + 1);
  assert.notEqual(otherRule, shorter);
  assert.deepEqual(findingsOf(otherRule), replayFresh(RULES[1]!, times.slice(0, 1_050), values.slice(0, 1_050), seedUntil + 1));
  assert.equal(replays.size, 2);
  replays.replay('b', RULES[0]!, times.slice(0, 900), values.slice(0, 900), 0);
  assert.equal(replays.size, 2);
  // 'a' under RULES[1] was used last before 'b': it stays; 'a' under RULES[0] went.
  assert.equal(replays.replay('a', RULES[1]!, times.slice(0, 1_051), values.slice(0, 1_051), seedUntil + 1), otherRule);
  assert.notEqual(replays.replay('a', RULES[0]!, times.slice(0, 1_050), values.slice(0, 1_050), seedUntil + 1), shorter);
});
