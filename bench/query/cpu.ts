import fs from 'node:fs';
import type { Pool } from '../../backend/src/db/pool.js';

/**
 * CPU time of the benchmark process plus the PostgreSQL backends serving its
 * database (from /proc, as bench/ingest does): on a machine shared with other
 * work, wall-clock latency grows with the load; the CPU an answer costs does
 * much less. Redis's CPU is not counted. Returns undefined where /proc cannot
 * be read (not Linux, or PostgreSQL on another host).
 */
const TICK_MS = 10; // USER_HZ 100 on Linux

function backendMs(pid: number): number | undefined {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

export interface CpuMeter {
  /** Milliseconds of CPU since `start()`: [this process, PostgreSQL backends]. */
  stop(): Promise<[number, number] | undefined>;
}

export async function startCpu(pool: Pool): Promise<CpuMeter> {
  const pids = async () => (await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()')).rows.map((row) => row.pid);
  const before = new Map<number, number>();
  for (const pid of await pids()) {
    const ms = backendMs(pid);
    if (ms !== undefined) before.set(pid, ms);
  }
  const node = process.cpuUsage();
  return {
    stop: async () => {
      const used = process.cpuUsage(node);
      if (before.size === 0) return undefined;
      let database = 0;
      for (const pid of await pids()) {
        const ms = backendMs(pid);
        if (ms !== undefined) database += ms - (before.get(pid) ?? 0);
      }
      return [(used.user + used.system) / 1000, database];
    },
  };
}

/**
 * A CPU clock read many times over one stretch (`run.ts` charging each side of its interleaved rounds): this process
 * plus the PostgreSQL backends serving its database when the clock was opened, from /proc with no statement per
 * reading. `since` gives the milliseconds used after an earlier reading; a backend that exited in between (the pool
 * closes idle connections) counts for nothing in that stretch rather than taking its whole past off the sum.
 * Undefined where /proc cannot be read.
 */
export interface CpuClock {
  read(): CpuReading;
  since(earlier: CpuReading): number;
}
interface CpuReading {
  node: number;
  backends: Map<number, number>;
}

export async function openCpuClock(pool: Pool): Promise<CpuClock | undefined> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  const pids = rows.map((row) => row.pid).filter((pid) => backendMs(pid) !== undefined);
  if (pids.length === 0) return undefined;
  const read = (): CpuReading => {
    const used = process.cpuUsage();
    const backends = new Map<number, number>();
    for (const pid of pids) {
      const ms = backendMs(pid);
      if (ms !== undefined) backends.set(pid, ms);
    }
    return { node: (used.user + used.system) / 1000, backends };
  };
  return {
    read,
    since(earlier) {
      const now = read();
      let database = 0;
      for (const [pid, ms] of now.backends) database += ms - (earlier.backends.get(pid) ?? ms);
      return now.node - earlier.node + database;
    },
  };
}
