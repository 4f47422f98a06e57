/**
 * The last `capacity` values kept both in arrival order and sorted, so quantiles of a sliding
 * window cost a binary search and one block move instead of a sort per point. Both live in
 * typed arrays (a ring and a sorted run) that grow up to `capacity` as values arrive: the
 * detectors push millions of values, and plain arrays of doubles kept the garbage collector busy.
 */
export class RollingWindow {
  private ring: Float64Array;
  private sorted: Float64Array;
  /** Ring slot of the oldest value. */
  private head = 0;
  private count = 0;
  private sum = 0;

  constructor(private readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error(`rolling window capacity must be >= 1, got ${capacity}`);
    const initial = Math.min(capacity, 64);
    this.ring = new Float64Array(initial);
    this.sorted = new Float64Array(initial);
  }

  get size(): number {
    return this.count;
  }

  push(value: number): void {
    if (this.count === this.capacity) {
      const oldest = this.ring[this.head]!;
      this.sum -= oldest;
      const at = this.lowerBound(oldest);
      this.sorted.copyWithin(at, at + 1, this.count);
      this.count--;
      this.ring[this.head] = value;
      this.head = (this.head + 1) % this.capacity;
    } else {
      if (this.count === this.ring.length) this.grow();
      this.ring[(this.head + this.count) % this.ring.length] = value;
    }
    this.sum += value;
    const at = this.lowerBound(value);
    this.sorted.copyWithin(at + 1, at, this.count);
    this.sorted[at] = value;
    this.count++;
  }

  /** Quantile q in [0, 1] by linear interpolation between order statistics; NaN when empty. */
  quantile(q: number): number {
    const n = this.count;
    if (n === 0) return Number.NaN;
    const pos = Math.min(Math.max(q, 0), 1) * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, n - 1);
    return this.sorted[lo]! + (pos - lo) * (this.sorted[hi]! - this.sorted[lo]!);
  }

  mean(): number {
    return this.count === 0 ? Number.NaN : this.sum / this.count;
  }

  median(): number {
    return this.quantile(0.5);
  }

  /** Doubles both arrays (never past `capacity`); the ring is not full yet, so its head is slot 0. */
  private grow(): void {
    const size = Math.min(this.capacity, 2 * this.ring.length);
    const ring = new Float64Array(size);
    ring.set(this.ring);
    const sorted = new Float64Array(size);
    sorted.set(this.sorted);
    this.ring = ring;
    this.sorted = sorted;
  }

  private lowerBound(value: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
