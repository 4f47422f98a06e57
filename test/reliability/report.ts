import type { Sample } from './client.js';

export interface Fault {
  name: string;
  start: number;
  /** When the faulty part was back (process listening, server accepting). */
  recovered: number;
}

export function p99(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];
}

const queryLatencies = (samples: Sample[], from: number, to: number) =>
  samples.filter((s) => s.kind === 'query' && s.status === 200 && s.at >= from && s.at < to).map((s) => s.ms);

export interface FaultLatency {
  fault: Fault;
  before?: number;
  during?: number;
  after?: number;
  /** Seconds from recovery until a 3 s window's p99 is back to the pre-fault value; undefined if never within 30 s. */
  backAfterS?: number;
}

/** "Back to pre-fault" allows 20% or 25 ms of noise, whichever is larger: the machine is shared. */
export function faultLatency(samples: Sample[], fault: Fault): FaultLatency {
  const before = p99(queryLatencies(samples, fault.start - 10_000, fault.start));
  const during = p99(queryLatencies(samples, fault.start, fault.recovered));
  const after = p99(queryLatencies(samples, fault.recovered, fault.recovered + 10_000));
  let backAfterS: number | undefined;
  if (before !== undefined) {
    for (let t = fault.recovered; t <= fault.recovered + 30_000; t += 500) {
      const window = p99(queryLatencies(samples, t, t + 3_000));
      if (window !== undefined && window <= Math.max(before * 1.2, before + 25)) {
        backAfterS = (t - fault.recovered) / 1000;
        break;
      }
    }
  }
  return { fault, before, during, after, backAfterS };
}

const ms = (value: number | undefined) => (value === undefined ? 'n/a' : `${value.toFixed(0)} ms`);

export function table(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `| ${name.padEnd(width)} | ${value} |`).join('\n');
}

export function latencyRows(latencies: FaultLatency[]): Array<[string, string]> {
  return latencies.map((l) => [
    `p99 query: ${l.fault.name}`,
    `before ${ms(l.before)}, during ${ms(l.during)}, after ${ms(l.after)}; back to pre-fault ${l.backAfterS === undefined ? 'not within 30 s' : `${l.backAfterS.toFixed(1)} s`} after recovery`,
  ]);
}
