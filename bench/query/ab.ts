import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { startCpu } from './cpu.js';

/**
 * Cold dashboard loads (or single questions, `--question`) of two builds, interleaved in one process: this
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
 *   node --import tsx bench/query/ab.ts --database bench_q_10m_x --question p95 --other /tmp/before --loads 2000
 */
const { values: flags } = parseArgs({
  options: {
    database: { type: 'string' },
    dashboard: { type: 'string' },
    /** One of run.ts's questions (questions.ts) instead of a dashboard. */
    question: { type: 'string' },
    other: { type: 'string' },
    loads: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    /**
     * With --question: answers per turn of a build, back to back as cold.ts and run.ts ask them (a cold answer right
     * after the last, not after 20 ms of idle, which doubled it); CPU is metered per turn.
     */
    block: { type: 'string', default: '20' },
  },
});
if (!flags.database || !flags.dashboard === !flags.question || !flags.other) throw new Error('usage: --database NAME (--dashboard FILE | --question KEY) --other CHECKOUT');

interface Build {
  name: string;
  /** One cold load; resolves to its wall time (ms), the answers' alone. `settle` false: the next load follows at once. */
  load(settle?: boolean): Promise<number>;
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
  const { questions } = await load<typeof import('./questions.js')>('bench/query/questions.ts');
  const { context, org, end, close } = await openServiceContext(flags.database!);
  const { service } = await createQueryModule(context);
  const question = flags.question === undefined ? undefined : questions(end).find((one) => one.key === flags.question);
  if (flags.question !== undefined && !question) throw new Error(`no question '${flags.question}'`);
  const panels = question ? [{ title: question.key, body: question.body }] : dashboardRequests(flags.dashboard!, end);
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
    async load(settle = true) {
      // Cold: a new cache version, as a write gives; the bump is counted with the load, as in cold.ts.
      await context.cacheVersions.bump(org);
      const started = performance.now();
      await Promise.all(panels.map((panel) => one(panel.body)));
      const wall = performance.now() - started;
      // A stored answer is written a turn after it is returned: its CPU counts with the load.
      if (settle) await new Promise((resolve) => setTimeout(resolve, 20));
      return wall;
    },
  };
}

const builds = [await openBuild(path.resolve(import.meta.dirname, '../..'), 'this'), await openBuild(path.resolve(flags.other), 'other')];
try {
  for (let index = 0; index < Number(flags.warmup); index += 1) for (const build of builds) await build.load();
  const loads = Number(flags.loads);
  const block = flags.question ? Number(flags.block) : 1;
  for (let index = 0; index * block < loads; index += 1) {
    for (const build of index % 2 === 0 ? builds : [...builds].reverse()) {
      const meter = await startCpu(build.pool);
      for (let one = 0; one < block; one += 1) build.wall.push(await build.load(block === 1));
      if (block > 1) await new Promise((resolve) => setTimeout(resolve, 20));
      const cpu = await meter.stop();
      build.node += cpu?.[0] ?? 0;
      build.pg += cpu?.[1] ?? 0;
    }
  }
  console.log(`${flags.dashboard ?? flags.question}, ${loads} cold loads per build, interleaved; load average ${os.loadavg().map((n) => n.toFixed(1)).join(' ')}`);
  console.log('| build | p50 | p90 | Node CPU per load | PostgreSQL CPU per load |\n|---|---:|---:|---:|---:|');
  for (const build of builds) {
    const sorted = [...build.wall].sort((a, b) => a - b);
    // A single question's answer is about a millisecond: two decimals.
    const digits = flags.question ? 2 : 1;
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(digits);
    const count = build.wall.length;
    console.log(`| ${build.name === 'this' ? 'this checkout' : flags.other} | ${at(0.5)} | ${at(0.9)} | ${(build.node / count).toFixed(digits)} | ${(build.pg / count).toFixed(digits)} |`);
  }
} finally {
  for (const build of builds) await build.close();
}
