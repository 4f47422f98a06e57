import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * CPU-heavy loops over many rows (merging rollup rows and sketches, filling
 * buckets) hand the event loop back every `every` items, so health checks and
 * other tenants' requests run in between instead of waiting for one big answer.
 */
export class Yielder {
  private count = 0;
  constructor(private readonly every = 2_000) {}

  /** Call once per item (or with the item's weight); yields a turn every `every` units of work. */
  tick(weight = 1): Promise<void> | undefined {
    this.count += weight;
    if (this.count < this.every) return undefined;
    this.count = 0;
    return nextTurn();
  }
}
