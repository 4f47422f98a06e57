// The mapping is not re-exported from the package root.
import { LogarithmicMapping } from '@datadog/sketches-js/dist/ddsketch/mapping/index.js';
import { LRUCache } from 'lru-cache';

/**
 * Quantile sketches for rollups: DDSketch (relative-error guarantee, exactly
 * mergeable) stored as a flat JSON map of bin key -> count, so PostgreSQL can
 * merge two sketches with `sketch_merge()` inside an increment upsert.
 *
 * Keys: "<n>" a positive value's bin n (n < 0 for values below 1), "n<n>" a
 * negative value's bin n (of |value|), "z" zero. SQL's `sketch_bin()` (migration
 * 0012) computes the same keys.
 * Relative accuracy 0.5%: a quantile read from merged bins is within 0.5% of
 * a value at that rank, comfortably inside the 1% the API promises.
 */
export const SKETCH_RELATIVE_ACCURACY = 0.005;
const mapping = new LogarithmicMapping(SKETCH_RELATIVE_ACCURACY);

export type SketchBins = Record<string, number>;

/**
 * Bin keys as strings by bin index, one map per sign: ingestion names a bin for every value it counts, and one
 * string per bin, not per value, is also a key V8 has hashed before. Bounded: a few thousand bins cover values
 * from 1e-12 to 1e12.
 */
const positiveKeys = new Map<number, string>();
const negativeKeys = new Map<number, string>();
const MAX_BIN_KEYS = 10_000;

function cachedKey(keys: Map<number, string>, index: number, prefix: string): string {
  let key = keys.get(index);
  if (key === undefined) {
    key = `${prefix}${index}`;
    if (keys.size < MAX_BIN_KEYS) keys.set(index, key);
  }
  return key;
}

export function binKey(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`sketch value must be finite, got ${value}`);
  if (Math.abs(value) < mapping.minPossible) return 'z';
  return value > 0 ? cachedKey(positiveKeys, mapping.key(value), '') : cachedKey(negativeKeys, mapping.key(-value), 'n');
}

/** Adds one value to a bin map in place. */
export function addToBins(bins: SketchBins, value: number, weight = 1): SketchBins {
  const key = binKey(value);
  bins[key] = (bins[key] ?? 0) + weight;
  return bins;
}

export function binsFromValues(values: Iterable<number>): SketchBins {
  const bins: SketchBins = {};
  for (const value of values) addToBins(bins, value);
  return bins;
}

/** Adds `source` into `target` in place (same merge as SQL `sketch_merge`). */
export function mergeBins(target: SketchBins, source: SketchBins | null | undefined): SketchBins {
  if (!source) return target;
  // for-in rather than Object.entries: no array per bin on the cold-query path.
  for (const key in source) target[key] = (target[key] ?? 0) + Number(source[key]);
  return target;
}

/** Value at quantile q in [0, 1]; undefined for an empty sketch. */
export function quantile(bins: SketchBins, q: number): number | undefined {
  const accumulator = new SketchAccumulator();
  accumulator.addBins(bins);
  return accumulator.quantile(q);
}

/**
 * Counts per integer bin key in one growable array: no object or string per
 * bin. `clear()` zeroes only what was touched, so one instance serves many
 * merges (one per query bucket) without allocating again.
 */
class DenseBins {
  private counts = new Float64Array(0);
  private offset = 0;
  /** Touched index range [low, high) and the sum of the counts. */
  private low = Number.POSITIVE_INFINITY;
  private high = 0;
  total = 0;

  add(key: number, count: number): void {
    let index = key - this.offset;
    if (index < 0 || index >= this.counts.length) {
      this.grow(key);
      index = key - this.offset;
    }
    this.counts[index]! += count;
    this.total += count;
    if (index < this.low) this.low = index;
    if (index >= this.high) this.high = index + 1;
  }

  /** Takes `count` out of a bin; false (and nothing changed) when the bin holds less. */
  remove(key: number, count: number): boolean {
    const index = key - this.offset;
    if (index < this.low || index >= this.high || this.counts[index]! < count) return false;
    this.counts[index]! -= count;
    this.total -= count;
    return true;
  }

  clear(): void {
    if (this.high > 0) this.counts.fill(0, this.low, this.high);
    this.low = Number.POSITIVE_INFINITY;
    this.high = 0;
    this.total = 0;
  }

  private grow(key: number): void {
    const empty = this.counts.length === 0;
    const low = Math.min(empty ? key : this.offset, key) - 64;
    const high = Math.max(empty ? key + 1 : this.offset + this.counts.length, key + 1) + 64;
    const next = new Float64Array(high - low);
    if (!empty) next.set(this.counts, this.offset - low);
    const shift = this.offset - low;
    if (this.high > 0) {
      this.low += shift;
      this.high += shift;
    }
    this.counts = next;
    this.offset = low;
  }

  forEach(visit: (key: number, count: number) => void): void {
    for (let index = this.low; index < this.high; index += 1) if (this.counts[index]! > 0) visit(index + this.offset, this.counts[index]!);
  }

  /**
   * The key holding `rank` (0-based, ascending keys), by DDSketch's
   * DenseStore.keyAtRank: `lower` counts a rank inside a bin as that bin's.
   */
  keyAtRank(rank: number, lower: boolean): number {
    let running = 0;
    for (let index = this.low; index < this.high; index += 1) {
      running += this.counts[index]!;
      if (lower ? running > rank : running >= rank + 1) return index + this.offset;
    }
    return this.high - 1 + this.offset;
  }
}

/**
 * Scratch space of one scan; scans are synchronous, so one set serves every
 * call. Typed arrays filled by index, grown when a map has more bins: pushing
 * onto plain arrays was a third of merging a 30-day percentile's ~50 sketches.
 */
const scanned = { length: 0, kinds: new Uint8Array(1024), keys: new Float64Array(1024), counts: new Float64Array(1024) };

function growScanned(): void {
  const size = scanned.kinds.length * 2;
  const kinds = new Uint8Array(size);
  const keys = new Float64Array(size);
  const counts = new Float64Array(size);
  kinds.set(scanned.kinds);
  keys.set(scanned.keys);
  counts.set(scanned.counts);
  Object.assign(scanned, { kinds, keys, counts });
}
const POSITIVE = 0;
const NEGATIVE = 1;
const ZERO = 2;

/**
 * Reads a bin map in PostgreSQL's jsonb text form (`{"z": 1, "-69": 3, "n70": 2}`)
 * starting at `start` into `scanned`, and returns the index just past its
 * closing brace, or -1 at the first character that is not that exact form
 * (the caller then uses JSON.parse). Many sketches merge on every cold
 * percentile answer; this measured 2.4x faster than JSON.parse plus merging
 * objects (bench/README.md, Query).
 */
function scanJsonbBins(text: string, start: number): number {
  scanned.length = 0;
  let { kinds, keys, counts } = scanned;
  let length = 0;
  if (text.charCodeAt(start) !== 123 /* { */) return -1;
  let p = start + 1;
  if (text.charCodeAt(p) === 125 /* } */) return p + 1;
  for (;;) {
    if (text.charCodeAt(p++) !== 34 /* " */) return -1;
    let kind = POSITIVE;
    let key = 0;
    let ch = text.charCodeAt(p);
    if (ch === 122 /* z */) {
      kind = ZERO;
      p += 1;
    } else {
      if (ch === 110 /* n */) {
        kind = NEGATIVE;
        p += 1;
      }
      const negativeKey = text.charCodeAt(p) === 45; /* - */
      if (negativeKey) p += 1;
      const keyStart = p;
      while ((ch = text.charCodeAt(p)) >= 48 && ch <= 57) {
        key = key * 10 + ch - 48;
        p += 1;
      }
      if (p === keyStart) return -1;
      if (negativeKey) key = -key;
    }
    if (text.charCodeAt(p) !== 34 || text.charCodeAt(p + 1) !== 58 /* : */ || text.charCodeAt(p + 2) !== 32) return -1;
    p += 3;
    const countStart = p;
    let count = 0;
    while ((ch = text.charCodeAt(p)) >= 48 && ch <= 57) {
      count = count * 10 + ch - 48;
      p += 1;
    }
    if (p === countStart || count > Number.MAX_SAFE_INTEGER) return -1;
    if (length === kinds.length) {
      growScanned();
      ({ kinds, keys, counts } = scanned);
    }
    kinds[length] = kind;
    keys[length] = key;
    counts[length] = count;
    scanned.length = length += 1;
    ch = text.charCodeAt(p);
    if (ch === 125) return p + 1;
    if (ch !== 44 /* , */ || text.charCodeAt(p + 1) !== 32) return -1;
    p += 2;
  }
}

/**
 * The value at quantile q of ONE bin map in jsonb text at `start` inside a
 * longer text, read straight from its bins; undefined when this shortcut does
 * not apply and the caller merges it in a SketchAccumulator instead: a map
 * that is empty, not in jsonb's exact form, holds zero or negative values, or
 * whose keys jsonb's order (by length, then bytes) does not list in numeric
 * order (keys of values below 1 are negative). An hourly point of an hourly
 * percentile is one rollup row: most maps are a few dozen positive keys in
 * order, and clearing, filling and walking dense arrays for each was most of
 * the merging time. Same rank rule as `SketchAccumulator.quantile`.
 */
export function quantileOfOneJsonAt(text: string, start: number, q: number): number | undefined {
  if (q < 0 || q > 1) throw new RangeError(`quantile must be within [0, 1], got ${q}`);
  if (scanJsonbBins(text, start) < 0) return undefined;
  const { length, kinds, keys, counts } = scanned;
  let total = 0;
  let previous = Number.NEGATIVE_INFINITY;
  for (let index = 0; index < length; index += 1) {
    if (kinds[index] !== POSITIVE || keys[index]! <= previous) return undefined;
    previous = keys[index]!;
    total += counts[index]!;
  }
  if (total === 0) return undefined;
  const rank = q * (total - 1);
  let running = 0;
  for (let index = 0; index < length; index += 1) {
    running += counts[index]!;
    if (running > rank) return mapping.value(keys[index]!);
  }
  return mapping.value(previous);
}

/**
 * The bins of ONE bin map in jsonb text at `start`, when `quantileOfOneJsonAt` would read it straight (positive keys
 * in numeric order, some count): its n keys, then their running counts, in one array; else undefined. For a map
 * that several quantiles are read from (`quantileOfOrderedBins`), scanned once.
 */
export function orderedBinsOfJsonAt(text: string, start: number): number[] | undefined {
  if (scanJsonbBins(text, start) < 0) return undefined;
  const { length, kinds, keys, counts } = scanned;
  let previous = Number.NEGATIVE_INFINITY;
  for (let index = 0; index < length; index += 1) {
    if (kinds[index] !== POSITIVE || keys[index]! <= previous) return undefined;
    previous = keys[index]!;
  }
  // A plain array: allocating a typed array per map cost more than scanning it again.
  const bins: number[] = [];
  for (let index = 0; index < length; index += 1) bins.push(keys[index]!);
  let running = 0;
  for (let index = 0; index < length; index += 1) bins.push((running += counts[index]!));
  return running === 0 ? undefined : bins;
}

/** What `quantileOfOneJsonAt` answers for the bin map that `orderedBinsOfJsonAt` read (same sums, same rank rule). */
export function quantileOfOrderedBins(bins: readonly number[], q: number): number {
  if (q < 0 || q > 1) throw new RangeError(`quantile must be within [0, 1], got ${q}`);
  const length = bins.length / 2;
  const rank = q * (bins[2 * length - 1]! - 1);
  for (let index = 0; index < length; index += 1) if (bins[length + index]! > rank) return mapping.value(bins[index]!);
  return mapping.value(bins[length - 1]!);
}

/**
 * The value a bin key stands for, read in place from `text` [start, end): what
 * `SketchAccumulator.quantile` answers when that bin holds the rank. Hourly
 * per-dimension rows carry their bin keys at p50-p99 (migration 0165), and a
 * point that is one such row is read from its key instead of its sketch.
 */
export function valueOfBinKeyAt(text: string, start: number, end: number): number {
  if (end === start + 1 && text.charCodeAt(start) === 122 /* z */) return 0;
  let p = start;
  const negativeValue = text.charCodeAt(p) === 110; /* n */
  if (negativeValue) p += 1;
  const negativeKey = text.charCodeAt(p) === 45; /* - */
  if (negativeKey) p += 1;
  const digits = p;
  let key = 0;
  for (let ch = text.charCodeAt(p); p < end && ch >= 48 && ch <= 57; ch = text.charCodeAt(++p)) key = key * 10 + ch - 48;
  if (p === digits || p !== end) throw new RangeError(`not a sketch bin key: ${text.slice(start, end)}`);
  const value = valueOfKey(negativeKey ? -key : key);
  return negativeValue ? -value : value;
}

/**
 * `mapping.value` of a bin key, remembered: the 3,600 points of an hourly p95 by bot hold ~150 different keys, and
 * Math.pow per point was a tenth of reading them. The same function of the key, so the same double.
 */
const keyValues = new Map<number, number>();
function valueOfKey(key: number): number {
  let value = keyValues.get(key);
  if (value === undefined) {
    // Keys span about ±71,000 (doubles at 0.5 % accuracy); a bound keeps a long-running process's map small anyway.
    if (keyValues.size >= 16_384) keyValues.clear();
    keyValues.set(key, (value = mapping.value(key)));
  }
  return value;
}

/**
 * Bin maps already scanned, by their text. After every write a cold percentile answer reads the same rollup rows again
 * (the 30-day p95: 24 hourly sketches and two cumulative ones, 28 KB of text), and a write changes few of them (the
 * open hour's); scanning them again was a tenth of the answer. An entry is found by a hash of 16 of the text's
 * characters (`sketchTextKey`) and used only when its text equals the one read, character for character (a few
 * microseconds for the 28 KB), so it is a pure function of its text: a text that hashes alike but differs is scanned,
 * and replaces it. Bounded by size (bench/README.md, issue 20, step 31).
 */
interface ScannedText {
  text: string;
  /** kind, key, count of each bin, in the text's order. */
  bins: Float64Array;
}
const SCANNED_TEXTS_BYTES = 16 * 1024 * 1024;
const scannedTexts = new LRUCache<number, ScannedText>({ maxSize: SCANNED_TEXTS_BYTES, sizeCalculation: (entry) => 2 * entry.text.length + entry.bins.byteLength + 64 });

/** The key `scannedTexts` files a text under: its length and 16 characters spread over it. Equal texts, equal keys. */
export function sketchTextKey(text: string): number {
  const length = text.length;
  const step = (length >> 4) + 1;
  let hash = length;
  for (let index = 1; index < length; index += step) hash = (Math.imul(hash, 31) + text.charCodeAt(index)) | 0;
  return hash;
}

/** A whole row's sketch (at offset 0, as the query path reads every row's) is kept once scanned; one inside a longer text is not. */
function wholeTextKey(text: string, start: number): number | undefined {
  return start === 0 ? sketchTextKey(text) : undefined;
}

function scannedBinsOf(text: string, key: number | undefined): Float64Array | undefined {
  const entry = key === undefined ? undefined : scannedTexts.get(key);
  return entry !== undefined && entry.text === text ? entry.bins : undefined;
}

/** Keeps what `scanJsonbBins` just read, when it read the whole of a text kept by key (`end` just past the map). */
function rememberScanned(text: string, key: number | undefined, end: number): void {
  if (key === undefined || end !== text.length) return;
  const { length, kinds, keys, counts } = scanned;
  const bins = new Float64Array(3 * length);
  for (let index = 0; index < length; index += 1) {
    bins[3 * index] = kinds[index]!;
    bins[3 * index + 1] = keys[index]!;
    bins[3 * index + 2] = counts[index]!;
  }
  scannedTexts.set(key, { text, bins });
}

/** A bin map key's store: "z" zero, "n<k>" negative, "<k>" positive. */
const kindOf = (key: string) => (key === 'z' ? ZERO : key.startsWith('n') ? NEGATIVE : POSITIVE);
const keyOf = (key: string) => (key === 'z' ? 0 : key.startsWith('n') ? Number(key.slice(1)) : Number(key));

/**
 * Merges many sketches and answers quantiles: the bins of every rollup row a
 * percentile question reads, summed in dense arrays by bin key.
 */
export class SketchAccumulator {
  private readonly positive = new DenseBins();
  private readonly negative = new DenseBins();
  private zero = 0;

  /** Adds one bin map given as jsonb text, as PostgreSQL sends it. */
  addJson(text: string): void {
    if (scanJsonbBins(text, 0) !== text.length) {
      this.addBins(JSON.parse(text) as SketchBins);
      return;
    }
    this.addScanned();
  }

  /**
   * Adds the bin map in jsonb text form that starts at `start` inside a longer
   * text (several sketches sent in one string); returns the index just past it.
   */
  addJsonAt(text: string, start: number): number {
    const key = wholeTextKey(text, start);
    const known = scannedBinsOf(text, key);
    if (known) {
      for (let index = 0; index < known.length; index += 3) this.add(known[index]!, known[index + 1]!, known[index + 2]!);
      return text.length;
    }
    const end = scanJsonbBins(text, start);
    if (end < 0) return this.applyJsonAt(text, start, this.addBin);
    rememberScanned(text, key, end);
    this.addScanned();
    return end;
  }

  /**
   * Takes the bin map in jsonb text form that starts at `start` out of the
   * merged bins, and returns the index just past it: the earlier of two
   * cumulative sketches, whose difference is the sum of the days between
   * them. Every bin must already hold at least as much (call it after adding
   * every sketch it is taken from); bins left at 0 count for nothing, as an
   * absent bin. A bin holding less is an error, and the accumulator is then
   * left part-way: clear it.
   */
  subtractJsonAt(text: string, start: number): number {
    const key = wholeTextKey(text, start);
    const known = scannedBinsOf(text, key);
    if (known) {
      for (let index = 0; index < known.length; index += 3) this.remove(known[index]!, known[index + 1]!, known[index + 2]!);
      return text.length;
    }
    const end = scanJsonbBins(text, start);
    if (end < 0) return this.applyJsonAt(text, start, this.removeBin);
    rememberScanned(text, key, end);
    this.removeScanned();
    return end;
  }

  /**
   * Each bin of a bin map that is not in jsonb's exact text form (scanJsonbBins declined it), parsed as JSON, to
   * `apply`; returns the index just past the map. The exact form, every sketch PostgreSQL sends, is added or taken out
   * straight from the scan, with no call through `apply` per bin (bench/README.md, issue 20, step 24).
   */
  private applyJsonAt(text: string, start: number, apply: (kind: number, key: number, count: number) => void): number {
    // Bin maps hold no nested objects or strings with braces: the first } closes this one.
    const close = text.indexOf('}', start) + 1;
    const bins = JSON.parse(text.slice(start, close)) as SketchBins;
    for (const key in bins) apply(kindOf(key), keyOf(key), Number(bins[key]));
    return close;
  }

  private addScanned(): void {
    const { length, kinds, keys, counts } = scanned;
    for (let index = 0; index < length; index += 1) this.add(kinds[index]!, keys[index]!, counts[index]!);
  }

  private removeScanned(): void {
    const { length, kinds, keys, counts } = scanned;
    for (let index = 0; index < length; index += 1) this.remove(kinds[index]!, keys[index]!, counts[index]!);
  }

  /** add and remove bound once, for applyJsonAt (no closure per sketch). */
  private readonly addBin = (kind: number, key: number, count: number) => this.add(kind, key, count);
  private readonly removeBin = (kind: number, key: number, count: number) => this.remove(kind, key, count);

  addBins(bins: SketchBins): void {
    for (const key in bins) this.add(kindOf(key), keyOf(key), Number(bins[key]));
  }

  private add(kind: number, key: number, count: number): void {
    if (!Number.isInteger(key) || !Number.isFinite(count)) throw new RangeError(`not a sketch bin: ${kind === NEGATIVE ? 'n' : ''}${key} = ${count}`);
    if (kind === ZERO) this.zero += count;
    else (kind === NEGATIVE ? this.negative : this.positive).add(key, count);
  }

  private remove(kind: number, key: number, count: number): void {
    let removed = Number.isFinite(count);
    if (removed && kind === ZERO) {
      removed = this.zero >= count;
      if (removed) this.zero -= count;
    } else if (removed) removed = (kind === NEGATIVE ? this.negative : this.positive).remove(key, count);
    if (!removed) throw new RangeError(`cannot subtract sketch bin ${kind === ZERO ? 'z' : `${kind === NEGATIVE ? 'n' : ''}${key}`} = ${count}: the merged bins hold less`);
  }

  /** The merged bins as a bin map (the storage form). */
  toBins(): SketchBins {
    const bins: SketchBins = {};
    if (this.zero > 0) bins.z = this.zero;
    this.negative.forEach((key, count) => (bins[`n${key}`] = count));
    this.positive.forEach((key, count) => (bins[String(key)] = count));
    return bins;
  }

  /** Empties the accumulator for the next merge, keeping its arrays. */
  clear(): void {
    this.positive.clear();
    this.negative.clear();
    this.zero = 0;
  }

  /**
   * Value at quantile q in [0, 1], by DDSketch's own rank rule
   * (getValueAtQuantile), read straight from the merged bins; undefined when
   * empty. Building a DDSketch per answer point instead cost an object and
   * its stores per point: most of a grouped hourly percentile's time.
   */
  quantile(q: number): number | undefined {
    if (q < 0 || q > 1) throw new RangeError(`quantile must be within [0, 1], got ${q}`);
    const negatives = this.negative.total;
    const count = negatives + this.zero + this.positive.total;
    if (count === 0) return undefined;
    const rank = q * (count - 1);
    if (rank < negatives) return -mapping.value(this.negative.keyAtRank(negatives - rank - 1, false));
    if (rank < negatives + this.zero) return 0;
    return mapping.value(this.positive.keyAtRank(rank - this.zero - negatives, true));
  }
}
