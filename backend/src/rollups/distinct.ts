import { hash } from 'node:crypto';

/**
 * Distinct counts for rollups: HyperLogLog++ sketches (Heule, Nunkesser and
 * Hall 2013) in a form PostgreSQL merges with plain SQL (`hll_union()`,
 * migration 0020), so ingestion merges them inside an increment upsert.
 *
 * Every value is hashed to 64 bits (the first 8 bytes of its MD5, which SQL's
 * md5() computes too). A sketch is either
 *  - sparse: the entries `index25 << 6 | rho'` of the values seen, index25
 *    the hash's top 25 bits, rho' the position of the first 1-bit in the 39
 *    bits after them (1-40). Sorted, one per index25, as this class writes
 *    them; a stored sketch may also hold entries appended after them by
 *    ingestion's upserts (hll_union, migration 0100), so readers sort and keep
 *    the highest rho' per index25 before counting. Counted by linear counting
 *    over 2^25 slots: exact in practice for the small sets most rows hold (an
 *    expected 0.02 collisions at 1,000 values, and the estimator corrects for
 *    them on average);
 *  - dense: 2^15 one-byte registers, the maximum rho (1-50) per index15 =
 *    index25 >> 10. Counted with Ertl's improved estimator ("New cardinality
 *    estimation algorithms for HyperLogLog sketches", 2017), which needs no
 *    empirical bias tables: relative standard error 1.04 / sqrt(2^15) = 0.57 %,
 *    so the 2 % the API promises is 3.5 standard errors (about one set in
 *    2,000 lands further off: a probabilistic bound, as for any HyperLogLog).
 * A sparse sketch becomes dense past SPARSE_MAX entries (then the dense form,
 * 32 KiB, is about as small). Merging is exact: the merge of the sketches of
 * two sets is the sketch of their union, whatever the order. That is what
 * lets long ranges read blocks of days (distinct-blocks.ts, migration 0150):
 * a block's sketch, in this same form, is the merge of its days'.
 *
 * No npm package fitted: the HyperLogLog implementations there (bloom-filters,
 * hyperloglog-lite) have no sparse mode and serialise registers in their own
 * formats that PostgreSQL could not merge without an extension.
 */
export const PRECISION = 15;
export const REGISTERS = 1 << PRECISION;
const SPARSE_PRECISION = 25;
const SPARSE_SLOTS = 2 ** SPARSE_PRECISION;
/** The bits between the dense and the sparse index. */
const EXTRA_BITS = SPARSE_PRECISION - PRECISION;
/** Past this many entries a sketch is stored dense (SQL's hll_normalize uses the same number). */
export const SPARSE_MAX = 6_000;

/**
 * Entries of recent values, in two generations of up to ENTRY_CACHE_SIZE each (the older is dropped when the newer
 * fills): contacts and users recur across batches, and one MD5 through node:crypto costs about 1-2 us of Node, most
 * of it the call (bench/README.md, issue 20, step 21). At most 2 x 50,000 values are held.
 */
const ENTRY_CACHE_SIZE = 50_000;
let recentEntries = new Map<string, number>();
let olderEntries = new Map<string, number>();

/** The sparse entry of one value. Numbers and their decimal strings are the same value. */
export function entryOf(value: string | number): number {
  const text = typeof value === 'number' ? String(value) : value;
  let entry = recentEntries.get(text);
  if (entry !== undefined) return entry;
  entry = olderEntries.get(text) ?? hashedEntry(text);
  if (recentEntries.size >= ENTRY_CACHE_SIZE) {
    olderEntries = recentEntries;
    recentEntries = new Map();
  }
  recentEntries.set(text, entry);
  return entry;
}

function hashedEntry(text: string): number {
  const digest = hash('md5', text, 'buffer') as unknown as Buffer;
  const high = digest.readUInt32BE(0);
  const low = digest.readUInt32BE(4);
  const index25 = high >>> (32 - SPARSE_PRECISION);
  // The 39 bits after the index: 7 of `high`, then all of `low`.
  const rest = high & 0x7f;
  const rho = rest !== 0 ? Math.clz32(rest) - 25 + 1 : low !== 0 ? 7 + Math.clz32(low) + 1 : 40;
  return index25 * 64 + rho;
}

/** A sketch as stored: one of the two forms, or null for no values. */
export interface StoredSketch {
  sparse: number[] | null;
  dense: Uint8Array | null;
}

/**
 * Merges sketches and answers a count: the rollup rows a distinct question
 * reads, or the values of one batch's rollup row. Sparse entries are appended
 * to a typed array and sorted and deduplicated only when it fills or is read:
 * a cold answer merges tens of thousands of entries, and this measured several
 * times faster than a Map per entry.
 */
export class DistinctAccumulator {
  /** Sparse entries, possibly repeated, in entries[0, length). */
  private entries = new Uint32Array(64);
  private length = 0;
  /** Entries in [0, compacted) are sorted and one per sparse index. */
  private compacted = 0;
  private dense: Uint8Array | null = null;

  addValue(value: string | number): void {
    this.addEntry(entryOf(value));
  }

  addEntry(entry: number): void {
    if (this.dense) {
      raise(this.dense, entry);
      return;
    }
    if (this.length === this.entries.length) {
      this.compact();
      if (this.dense) {
        raise(this.dense, entry);
        return;
      }
      if (this.length * 2 > this.entries.length) {
        const grown = new Uint32Array(this.entries.length * 2);
        grown.set(this.entries.subarray(0, this.length));
        this.entries = grown;
      }
    }
    this.entries[this.length++] = entry;
  }

  addSketch(sketch: StoredSketch): void {
    if (sketch.sparse) for (const entry of sketch.sparse) this.addEntry(entry);
    if (sketch.dense) this.addDense(sketch.dense);
  }

  /**
   * Adds a sparse sketch in PostgreSQL's binary array form (`array_send(int4[])`):
   * a 20-byte header for one dimension, then a 4-byte length and a 4-byte value
   * per entry. Far cheaper to send and read than the text form of an array.
   */
  addSparseBinary(array: Uint8Array): void {
    const view = new DataView(array.buffer, array.byteOffset, array.byteLength);
    if (view.getInt32(0) === 0) return;
    if (view.getInt32(0) !== 1 || view.getInt32(4) !== 0) throw new RangeError('not a one-dimensional int4[] without nulls');
    const count = view.getInt32(12);
    if (20 + 8 * count > array.byteLength) throw new RangeError(`a binary int4[] of ${count} entries needs ${20 + 8 * count} bytes, got ${array.byteLength}`);
    if (this.dense) {
      // Straight into the registers: no entry is kept (a 7-day distinct count raises ~30,000 entries per answer).
      raiseAll(this.dense, array, count);
      return;
    }
    for (let index = 0, offset = 24; index < count; index += 1, offset += 8) this.addEntry(view.getUint32(offset));
  }

  addDense(registers: Uint8Array): void {
    if (registers.length !== REGISTERS) throw new RangeError(`a dense sketch has ${REGISTERS} registers, got ${registers.length}`);
    if (!this.dense && this.length === 0) {
      // The first sketch of an empty union is the union: copied, not merged into zeros.
      this.dense = new Uint8Array(registers);
      this.entries = new Uint32Array(0);
      return;
    }
    if (!this.dense) this.toDense();
    maxInto(this.dense!, registers);
  }

  /** Sorts and keeps the highest rho' per sparse index; turns dense past SPARSE_MAX of them. */
  private compact(): void {
    if (this.dense || this.compacted === this.length) return;
    const kept = keepHighestPerIndex(this.entries.subarray(0, this.length).sort());
    this.length = this.compacted = kept;
    if (kept > SPARSE_MAX) this.toDense();
  }

  private toDense(): void {
    const dense = new Uint8Array(REGISTERS);
    for (let index = 0; index < this.length; index += 1) raise(dense, this.entries[index]!);
    this.dense = dense;
    this.entries = new Uint32Array(0);
    this.length = this.compacted = 0;
  }

  /** The storage form: sorted sparse entries, or the dense registers. */
  toStored(): StoredSketch {
    this.compact();
    if (this.dense) return { sparse: null, dense: this.dense };
    return { sparse: Array.from(this.entries.subarray(0, this.length)), dense: null };
  }

  /** The estimated number of distinct values, rounded. */
  count(): number {
    this.compact();
    if (!this.dense) return this.length === 0 ? 0 : Math.round(SPARSE_SLOTS * Math.log(SPARSE_SLOTS / (SPARSE_SLOTS - this.length)));
    return Math.round(ertlEstimate(this.dense));
  }
}

/**
 * Keeps the highest rho' per sparse index of sorted entries, moving them to
 * the front; returns how many are kept. Sorted, so the last entry of a sparse
 * index has its highest rho'.
 */
function keepHighestPerIndex(sorted: { length: number; [index: number]: number }): number {
  let kept = 0;
  for (let index = 0; index < sorted.length; index += 1) {
    const entry = sorted[index]!;
    if (kept > 0 && sorted[kept - 1]! >>> 6 === entry >>> 6) sorted[kept - 1] = entry;
    else sorted[kept++] = entry;
  }
  return kept;
}

/**
 * The sparse sketch of a few entries (one batch's values of one rollup row),
 * sorted with the highest rho' per sparse index, without building an
 * accumulator: ingestion makes thousands of these per batch, mostly of one or
 * two entries. Sorts `entries` in place.
 */
export function sparseEntries(entries: number[]): number[] {
  if (entries.length > 1) entries.length = keepHighestPerIndex(entries.sort((a, b) => a - b));
  return entries;
}

/**
 * own[i] = max(own[i], other[i]) over all registers. Four registers per step
 * where both arrays allow 32-bit views: a 30-day answer merges several dense
 * sketches, and the byte loop was most of its merge. Register values are at
 * most MAX_RHO < 128, so per byte (other | 0x80) - own never borrows from the
 * next byte, and its top bit says other >= own.
 */
function maxInto(own: Uint8Array, other: Uint8Array): void {
  if (own.byteOffset % 4 === 0 && other.byteOffset % 4 === 0) {
    // Int32Array, not Uint32Array: words past 2^31 would be doubles to V8 (27 against 38 us per merge).
    const a = new Int32Array(own.buffer, own.byteOffset, REGISTERS / 4);
    const b = new Int32Array(other.buffer, other.byteOffset, REGISTERS / 4);
    for (let index = 0; index < a.length; index += 1) {
      const x = a[index]!;
      const y = b[index]!;
      if (x === y) continue;
      // `| 0` and Math.imul keep the arithmetic in 32-bit integers (wrapping, which the bytes never need).
      const ge = ((((y | 0x80808080) - (x & 0x7f7f7f7f)) | 0) & 0x80808080) >>> 7;
      const mask = Math.imul(ge, 0xff);
      a[index] = (y & mask) | (x & ~mask);
    }
    return;
  }
  for (let index = 0; index < REGISTERS; index += 1) if (other[index]! > own[index]!) own[index] = other[index]!;
}

/**
 * Raises the registers by the `count` entries of a binary int4[] (array_send; entries at 24 + 8i, big-endian), as
 * `raise` does one by one, in 32-bit integer arithmetic: entries are below 2^31 (index25 * 64 + rho').
 */
function raiseAll(registers: Uint8Array, array: Uint8Array, count: number): void {
  for (let index = 0, offset = 24; index < count; index += 1, offset += 8) {
    const entry = (array[offset]! << 24) | (array[offset + 1]! << 16) | (array[offset + 2]! << 8) | array[offset + 3]!;
    const index25 = entry >>> 6;
    const extra = index25 & ((1 << EXTRA_BITS) - 1);
    const rho = extra !== 0 ? Math.clz32(extra) - (32 - EXTRA_BITS) + 1 : EXTRA_BITS + (entry & 63);
    const register = index25 >>> EXTRA_BITS;
    if (registers[register]! < rho) registers[register] = rho;
  }
}

/** Raises the dense register of a sparse entry: index25 >> EXTRA_BITS, to the rank of the whole hash after it. */
function raise(registers: Uint8Array, entry: number): void {
  const index25 = Math.floor(entry / 64);
  const extra = index25 & ((1 << EXTRA_BITS) - 1);
  // Leading zeros of the EXTRA_BITS-bit number, plus one; when they are all zero, count on into rho'.
  const rho = extra !== 0 ? Math.clz32(extra) - (32 - EXTRA_BITS) + 1 : EXTRA_BITS + (entry % 64);
  const index = index25 >>> EXTRA_BITS;
  if (registers[index]! < rho) registers[index] = rho;
}

/** Largest register value: the 64 - PRECISION hash bits after the index all zero. */
const MAX_RHO = 64 - PRECISION + 1;

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const previous = z;
    z += x * y;
    y += y;
    if (z === previous) return z;
  }
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    const previous = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
    if (z === previous) return z / 3;
  }
}

/** Ertl's improved raw estimator (his algorithm 6) over a register histogram. */
function ertlEstimate(registers: Uint8Array): number {
  const histogram = new Float64Array(MAX_RHO + 1);
  for (let index = 0; index < REGISTERS; index += 1) histogram[registers[index]!]! += 1;
  const m = REGISTERS;
  let z = m * tau(1 - histogram[MAX_RHO]! / m);
  for (let k = MAX_RHO - 1; k >= 1; k -= 1) z = 0.5 * (z + histogram[k]!);
  z += m * sigma(histogram[0]! / m);
  return (m * m) / (2 * Math.LN2 * z);
}
