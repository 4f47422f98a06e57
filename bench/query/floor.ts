import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';

/**
 * The floor under a cold answer on this machine: what one Redis round trip and
 * one SQL round trip cost with nothing computed around them, measured the way
 * `cold.ts` measures answers (p50 of many, wall time, and this process's CPU).
 * A cold answer needs at least one of each (the cache lookup, the rollup
 * rows), so no change to the query path can bring it below their sum.
 *
 *   node --import tsx bench/query/floor.ts --database bench_q_10m_x [--iterations 2000]
 */
const { values: flags } = parseArgs({
  options: {
    database: { type: 'string' },
    iterations: { type: 'string', default: '2000' },
  },
});
if (!flags.database) throw new Error('usage: --database NAME [--iterations N]');
const iterations = Number(flags.iterations);
const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres');
url.pathname = `/${flags.database}`;
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/13', { enableAutoPipelining: true, lazyConnect: false });
const client = new pg.Client({ connectionString: url.toString() });
await client.connect();

async function measure(label: string, once: () => Promise<unknown>): Promise<void> {
  for (let index = 0; index < 50; index += 1) await once();
  const samples: number[] = [];
  const cpu = process.cpuUsage();
  for (let index = 0; index < iterations; index += 1) {
    const started = performance.now();
    await once();
    samples.push(performance.now() - started);
  }
  const used = process.cpuUsage(cpu);
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.floor(q * samples.length)]!.toFixed(3);
  console.log(`| ${label} | ${at(0.5)} | ${at(0.9)} | ${((used.user + used.system) / 1000 / iterations).toFixed(3)} |`);
}

try {
  await redis.set('floor:probe', 'x'.repeat(1000));
  console.log('| round trip | p50 ms | p90 ms | Node CPU ms |\n|---|---:|---:|---:|');
  await measure('Redis GET (1 kB)', () => redis.get('floor:probe'));
  await measure('SQL `SELECT 1`, named (prepared)', () => client.query({ name: 'floor_one', text: 'SELECT 1 AS one' }));
  await measure('Redis GET, then SQL `SELECT 1`', async () => {
    await redis.get('floor:probe');
    await client.query({ name: 'floor_one', text: 'SELECT 1 AS one' });
  });
  await redis.del('floor:probe');
  console.log(`load average ${os.loadavg().map((n) => n.toFixed(1)).join(' ')}`);
} finally {
  await client.end();
  redis.disconnect();
}
