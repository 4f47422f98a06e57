import { replay, type BaselineDetector, type BaselineFinding, type BaselineOptions, type Point } from './detectors/index.js';

interface Entry {
  detector: BaselineDetector;
  /** The last bucket pushed, and its value then: a late event changes it and forces a replay. */
  time: number;
  value: number;
  finding: BaselineFinding;
}

/**
 * Baseline detectors kept between evaluation ticks, per rule and series, so judging a new bucket
 * is one push instead of a replay of weeks of history, and the minute ticks within an hour reuse
 * the hour's finding. A replay from the history the evaluator read gives the same finding (the
 * detector forgets where it started, see `historyPoints`), so a cold process, a gap or a late
 * event in the last bucket just replays (`replay`: the older hours only fill the seasons, the
 * last `judgedHistoryPoints` are judged); several backend processes agree.
 */
export class DetectorCache {
  private readonly entries = new Map<string, Entry>();

  get size(): number {
    return this.entries.size;
  }

  /** The finding for the last of `points` (time-ordered, the history the rule reads). */
  judge(key: string, points: readonly Point[], options: BaselineOptions): BaselineFinding {
    const last = points[points.length - 1]!;
    const entry = this.entries.get(key);
    if (entry && entry.time === last.time && entry.value === last.value) return entry.finding;
    const previous = points[points.length - 2];
    if (entry && previous && entry.time === previous.time && entry.value === previous.value) {
      entry.finding = entry.detector.push(last);
      entry.time = last.time;
      entry.value = last.value;
      return entry.finding;
    }
    const { detector, finding } = replay(points, options);
    this.entries.set(key, { detector, time: last.time, value: last.value, finding });
    return finding;
  }

  /** Forgets series not judged since `before` (a series that vanished, a removed rule). */
  evictOlderThan(before: number): void {
    for (const [key, entry] of this.entries) if (entry.time < before) this.entries.delete(key);
  }
}
