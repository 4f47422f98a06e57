import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { startCpu } from './cpu.js';

/**
 * Cold dashboard loads of two builds, interleaved in one process: this
 * checkout and another (`--other`, e.g. a `git worktree` of the commit
 * before), each with its own modules, pool and Redis connection, on one data
 * set. Loads alternate A B, B A, ..., so a busy machine's drift (other
 * engineers' work, CPU frequency) falls on both alike, where separate
 * `cold.ts` runs a minute apart differed by 20-40 % for the same build.
 * Reports per build: p50 wall time, Node CPU per load (this process, during
 * that build's loads) and PostgreSQL CPU per load (the database's backends,
 * read from /proc around each load: 10 ms ticks, so only the sum over many
 * loads means anything).
 *
 *   node --import tsx bench/query/ab.ts --database bench_q_10m_x --dashboard overview.json --other /tmp/before [--loads 200]
 */
const { values: flags } = parseArgs({
  options: {
    database: { type: 'string' },
    dashboard: { type: 'string' },
    other: { type: 'string' },
    loads: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
  },
});
if (!flags.database || !flags.dashboard || !flags.other) throw new Error('usage: --database NAME --dashboard FILE --other CHECKOUT');

interface Build {
  name: string;
  /** One cold load; resolves to its wall time (ms), the answers' alone. */
  load(): Promise<number>;
  pool: Parameters<typeof startCpu>[0];
  close(): Promise<void>;
  wall: number[];
  node: number;
  pg: number;
}

/** One checkout's service, its own module graph (imported by file URL), answering the dashboard's panels together. */
async function openBuild(root: string, name: string): Promise<Build> {
  const load = <T>(file: string) => import(pathToFileURL(path.join(root, file)).href) as Promise<T>;
  const { openServiceContext } = await load<typeof import('./service-context.js')>('bench/query/service-context.ts');
  const { createQueryModule } = await load<typeof import('../../backend/src/query/module.js')>('backend/src/query/module.ts');
  const { dashboardRequests } = await load<typeof import('./dashboards.js')>('bench/query/dashboards.ts');
  const { context, org, end, close } = await openServiceContext(flags.database!);
  const { service } = await createQueryModule(context);
  const panels = dashboardRequests(flags.dashboard!, end);
  const one = async (body: (typeof panels)[number]['body']) => {
    const { results } = await service.query(org, body);
    for (const [refId, result] of Object.entries(results)) if (result.status !== 200) throw new Error(`${name} ${refId}: ${result.error}`);
  };
  return {
    name,
    pool: context.pool,
    close,
    wall: [],
    node: 0,
    pg: 0,
    async load() {
      // Cold: a new cache version, as a write gives; the bump is counted with the load, as in cold.ts.
      await context.cacheVersions.bump(org);
      const started = performance.now();
      await Promise.all(panels.map((panel) => one(panel.body)));
      const wall = performance.now() - started;
      // A stored answer is written a turn after it is returned: its CPU counts with the load.
      await new Promise((resolve) => setTimeout(resolve, 20));
      return wall;
    },
  };
}

const builds = [await openBuild(path.resolve(import.meta.dirname, '../..'), 'this'), await openBuild(path.resolve(flags.other), 'other')];
try {
  for (let index = 0; index < Number(flags.warmup); index += 1) for (const build of builds) await build.load();
  const loads = Number(flags.loads);
  for (let index = 0; index < loads; index += 1) {
    for (const build of index % 2 === 0 ? builds : [...builds].reverse()) {
      const meter = await startCpu(build.pool);
      build.wall.push(await build.load());
      const cpu = await meter.stop();
      build.node += cpu?.[0] ?? 0;
      build.pg += cpu?.[1] ?? 0;
    }
  }
  console.log(`${flags.dashboard}, ${loads} cold loads per build, interleaved; load average ${os.loadavg().map((n) => n.toFixed(1)).join(' ')}`);
  console.log('| build | p50 | p90 | Node CPU per load | PostgreSQL CPU per load |\n|---|---:|---:|---:|---:|');
  for (const build of builds) {
    const sorted = [...build.wall].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
    console.log(`| ${build.name === 'this' ? 'this checkout' : flags.other} | ${at(0.5)} | ${at(0.9)} | ${(build.node / loads).toFixed(1)} | ${(build.pg / loads).toFixed(1)} |`);
  }
} finally {
  for (const build of builds) await build.close();
}
