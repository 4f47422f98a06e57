/**
 * The Numenta Anomaly Benchmark score as NAB's SCORING.md defines it (in the team's copy of the
 * corpus, ../shared/data/nab, or NAB's own documentation)
 * (standard profile, sigmoid-weighted windows, single optimised threshold, normalised so the
 * null detector scores 0 and the perfect detector 100).
 */

export interface Profile {
  tpWeight: number;
  fnWeight: number;
  fpWeight: number;
}

export const STANDARD_PROFILE: Readonly<Profile> = { tpWeight: 1.0, fnWeight: 1.0, fpWeight: 0.11 };

/** One labelled file: its row count and its anomaly windows as inclusive row ranges. */
export interface LabelledFile {
  name: string;
  rows: number;
  windows: ReadonlyArray<readonly [number, number]>;
}

/** Rows at the start of a file that are never scored. */
export function probationRows(rows: number): number {
  return Math.min(Math.floor(0.15 * rows), 750);
}

/** S(x) = 2 / (1 + e^(5x)) - 1: 0.987 at x = -1, 0 at x = 0, towards -1 for large x. */
export function scaledSigmoid(x: number): number {
  return 2 / (1 + Math.exp(5 * x)) - 1;
}

const MAX_TP = scaledSigmoid(-1);

/** Weight of a detection at row i of a window a..b (1 at its first row, near 0 at its last). */
export function truePositiveWeight(i: number, a: number, b: number, profile: Profile = STANDARD_PROFILE): number {
  const w = b - a + 1;
  return (scaledSigmoid(-(b - i + 1) / w) * profile.tpWeight) / MAX_TP;
}

/**
 * Contribution of one row to the file score, were it a detection: which window it falls in (or
 * null) and, outside windows, what it costs. Rows in the probation period are `ignored`.
 */
type RowRole = { kind: 'ignored' } | { kind: 'window'; window: number; weight: number } | { kind: 'false-positive'; cost: number };

function rowRoles(file: LabelledFile, profile: Profile): RowRole[] {
  const probation = probationRows(file.rows);
  const windows = [...file.windows].sort((x, y) => x[0] - y[0]);
  const roles: RowRole[] = [];
  for (let i = 0; i < file.rows; i++) {
    if (i < probation) {
      roles.push({ kind: 'ignored' });
      continue;
    }
    const inside = windows.findIndex(([a, b]) => i >= a && i <= b);
    if (inside >= 0) {
      const [a, b] = windows[inside]!;
      roles.push({ kind: 'window', window: inside, weight: truePositiveWeight(i, a, b, profile) });
      continue;
    }
    let previous: readonly [number, number] | undefined;
    for (const win of windows) if (win[1] < i) previous = win;
    let v = -1;
    if (previous !== undefined) {
      const [a, b] = previous;
      const w = b - a + 1;
      // A one-row window has w - 1 = 0; treat its tail as if it were two rows wide.
      v = scaledSigmoid((i - b) / Math.max(w - 1, 1));
    }
    roles.push({ kind: 'false-positive', cost: profile.fpWeight * v });
  }
  return roles;
}

export interface FileScore {
  raw: number;
  detectedWindows: number;
  missedWindows: number;
  falsePositives: number;
}

/** Raw score of one file for a yes/no detection per row. */
export function scoreFile(file: LabelledFile, detected: ReadonlyArray<boolean>, profile: Profile = STANDARD_PROFILE): FileScore {
  if (detected.length !== file.rows) {
    throw new Error(`${file.name}: ${detected.length} detections for ${file.rows} rows`);
  }
  const roles = rowRoles(file, profile);
  const best: Array<number | null> = file.windows.map(() => null);
  let raw = 0;
  let falsePositives = 0;
  roles.forEach((role, i) => {
    if (!detected[i]) return;
    if (role.kind === 'window') best[role.window] = Math.max(best[role.window] ?? -Infinity, role.weight);
    else if (role.kind === 'false-positive') {
      raw += role.cost;
      falsePositives++;
    }
  });
  let detectedWindows = 0;
  for (const b of best) {
    if (b === null) raw -= profile.fnWeight;
    else {
      raw += b;
      detectedWindows++;
    }
  }
  return { raw, detectedWindows, missedWindows: file.windows.length - detectedWindows, falsePositives };
}

/** The raw scores of the detector that never fires and of the one that fires at each window's start. */
export function referenceScores(windowCount: number, profile: Profile = STANDARD_PROFILE): { null: number; perfect: number } {
  return { null: -profile.fnWeight * windowCount, perfect: profile.tpWeight * windowCount };
}

export function normalise(raw: number, windowCount: number, profile: Profile = STANDARD_PROFILE): number {
  const ref = referenceScores(windowCount, profile);
  return (100 * (raw - ref.null)) / (ref.perfect - ref.null);
}

export interface ScoredFile {
  file: LabelledFile;
  /** One anomaly score in [0, 1] per row. */
  scores: ReadonlyArray<number>;
}

export interface ThresholdResult {
  threshold: number;
  raw: number;
  score: number;
}

/**
 * The single threshold t (a row is detected when its score >= t) that maximises the corpus
 * score. Exact, in O(n log n): rows are admitted in decreasing score order; a false positive adds
 * its fixed cost, a window row can only raise its window's best weight, so the corpus score is
 * updated incrementally and read after each group of equal scores.
 */
export function optimiseThreshold(corpus: ReadonlyArray<ScoredFile>, profile: Profile = STANDARD_PROFILE): ThresholdResult {
  const events: Array<{ score: number; window: number; weight: number; cost: number }> = [];
  let windowCount = 0;
  for (const { file, scores } of corpus) {
    if (scores.length !== file.rows) throw new Error(`${file.name}: ${scores.length} scores for ${file.rows} rows`);
    const roles = rowRoles(file, profile);
    roles.forEach((role, i) => {
      if (role.kind === 'window') events.push({ score: scores[i]!, window: windowCount + role.window, weight: role.weight, cost: 0 });
      else if (role.kind === 'false-positive') events.push({ score: scores[i]!, window: -1, weight: 0, cost: role.cost });
    });
    windowCount += file.windows.length;
  }
  events.sort((x, y) => y.score - x.score);
  const best = new Array<number | null>(windowCount).fill(null);
  let raw = -profile.fnWeight * windowCount;
  // Above every score nothing is detected: the null detector's score.
  let result: ThresholdResult = { threshold: Infinity, raw, score: normalise(raw, windowCount, profile) };
  for (let k = 0; k < events.length; k++) {
    const e = events[k]!;
    if (e.window < 0) raw += e.cost;
    else {
      const before = best[e.window];
      if (before === null) {
        raw += profile.fnWeight + e.weight;
        best[e.window] = e.weight;
      } else if (e.weight > before!) {
        raw += e.weight - before!;
        best[e.window] = e.weight;
      }
    }
    const next = events[k + 1];
    if (next !== undefined && next.score === e.score) continue;
    if (raw > result.raw) result = { threshold: e.score, raw, score: normalise(raw, windowCount, profile) };
  }
  return result;
}

/** Row index ranges of windows given as timestamps that occur in the file. */
export function windowRows(fileName: string, times: ReadonlyArray<number>, windows: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  return windows.map(([start, end]) => {
    const a = times.indexOf(start);
    const b = times.lastIndexOf(end);
    if (a < 0 || b < 0 || b < a) {
      throw new Error(`${fileName}: window [${new Date(start).toISOString()}, ${new Date(end).toISOString()}] does not match rows of the file`);
    }
    return [a, b];
  });
}
