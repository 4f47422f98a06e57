/**
 * The last `capacity` values kept both in arrival order and sorted, so quantiles of a sliding
 * window cost a binary search and one array move instead of a sort per point.
 */
export class RollingWindow {
  private readonly fifo: number[] = [];
  private head = 0;
  private readonly sorted: number[] = [];
  private sum = 0;

  constructor(private readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error(`rolling window capacity must be >= 1, got ${capacity}`);
  }

  get size(): number {
    return this.sorted.length;
  }

  push(value: number): void {
    if (this.sorted.length === this.capacity) {
      const oldest = this.fifo[this.head++]!;
      this.sum -= oldest;
      this.sorted.splice(this.lowerBound(oldest), 1);
      // Drop consumed slots now and then so the queue does not grow without bound.
      if (this.head > this.capacity) {
        this.fifo.splice(0, this.head);
        this.head = 0;
      }
    }
    this.fifo.push(value);
    this.sum += value;
    this.sorted.splice(this.lowerBound(value), 0, value);
  }

  /** Quantile q in [0, 1] by linear interpolation between order statistics; NaN when empty. */
  quantile(q: number): number {
    const n = this.sorted.length;
    if (n === 0) return Number.NaN;
    const pos = Math.min(Math.max(q, 0), 1) * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, n - 1);
    return this.sorted[lo]! + (pos - lo) * (this.sorted[hi]! - this.sorted[lo]!);
  }

  mean(): number {
    return this.sorted.length === 0 ? Number.NaN : this.sum / this.sorted.length;
  }

  median(): number {
    return this.quantile(0.5);
  }

  private lowerBound(value: number): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
