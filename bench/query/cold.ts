import fs from 'node:fs';
import type { Socket } from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createQueryModule } from '../../backend/src/query/module.js';
import { DASHBOARDS, dashboardRequests } from './dashboards.js';
import { startCpu } from './cpu.js';
import type { QueryRequest } from '../../backend/src/query/schema.js';
import { questions } from './questions.js';
import { openServiceContext } from './service-context.js';
import { countRoundTrips } from './round-trips.js';
import { stepTimer } from './steps.js';
import { startProfile } from './profile.js';

/**
 * The cost of cold answers, one question or one dashboard at a time, on a
 * data set `run.ts` generated (nothing is generated, checked or migrated
 * here): wall time, CPU (Node and PostgreSQL) and the round trips of each
 * answer, with the Redis commands by name. Made to run under
 * `node --cpu-prof`, so a profile holds cold answers and little else.
 *
 *   node --import tsx bench/query/cold.ts --database bench_q_10m_x --question p95 [--iterations 200]
 *   node --import tsx bench/query/cold.ts --database bench_q_10m_x --dashboard overview.json [--panels]
 *
 * --steps (one question): where each cold answer's time went, p50 per step (steps.ts).
 * --profile FILE: a V8 CPU profile of the timed answers alone; `node --import tsx bench/query/profile.ts FILE` sums it by function.
 * --windows N: p50 and Node CPU per answer of each N answers in turn: how a new process warms up (V8 optimizes the
 *   answer path over its first few thousand answers; run.ts times a warmed process).
 */
const { values: flags } = parseArgs({
  options: {
    database: { type: 'string' },
    question: { type: 'string' },
    dashboard: { type: 'string' },
    iterations: { type: 'string', default: '200' },
    cached: { type: 'boolean', default: false },
    /** With --dashboard: each panel's cold cost on its own (one after another), most expensive first. */
    panels: { type: 'boolean', default: false },
    /** With --dashboard: only the panels whose title contains this text. */
    panel: { type: 'string' },
    steps: { type: 'boolean', default: false },
    /** A V8 CPU profile of the timed answers only (no start-up, no warm-up): written to this file. */
    profile: { type: 'string' },
    windows: { type: 'string' },
  },
});
if (!flags.database || (!flags.question === !flags.dashboard)) throw new Error('usage: --database NAME and one of --question KEY or --dashboard FILE');
const iterations = Number(flags.iterations);
const { context, org, end, close } = await openServiceContext(flags.database);
try {
  const redis = context.redis!;
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  await redis.flushdb();
  const question = flags.question ? questions(end).find((one) => one.key === flags.question) : undefined;
  if (flags.question && !question) throw new Error(`no question '${flags.question}'`);
  const panels = question
    ? [{ title: question.key, body: question.body }]
    : dashboardRequests(DASHBOARDS.find((board) => board.file === flags.dashboard)?.file ?? flags.dashboard!, end).filter((one) => flags.panel === undefined || one.title.includes(flags.panel));
  if (panels.length === 0) throw new Error(`no panel of ${flags.dashboard} has '${flags.panel}' in its title`);
  const { service } = await createQueryModule(context);
  const one = async (body: QueryRequest) => {
    const { results } = await service.query(org, body);
    for (const [refId, result] of Object.entries(results)) if (result.status !== 200) throw new Error(`${refId}: ${result.error}`);
  };
  const answer = () => Promise.all(panels.map((panel) => one(panel.body)));
  const before = flags.cached ? async () => undefined : () => context.cacheVersions.bump(org);
  // A stored answer is written a turn after it is returned: counted with its answer.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
  if (flags.panels) {
    const costs: Array<{ title: string; ms: number; node: number; pg: number }> = [];
    for (const panel of panels) {
      const samples: number[] = [];
      const meter = await startCpu(context.pool);
      for (let index = 0; index < iterations; index += 1) {
        await before();
        const started = performance.now();
        await one(panel.body);
        samples.push(performance.now() - started);
      }
      const cpu = await meter.stop();
      samples.sort((a, b) => a - b);
      costs.push({ title: panel.title, ms: samples[Math.floor(samples.length / 2)]!, node: (cpu?.[0] ?? 0) / iterations, pg: (cpu?.[1] ?? 0) / iterations });
    }
    costs.sort((a, b) => b.node + b.pg - (a.node + a.pg));
    console.log('| panel | cold p50 | Node CPU | PostgreSQL CPU |\n|---|---:|---:|---:|');
    for (const cost of costs) console.log(`| ${cost.title} | ${cost.ms.toFixed(1)} | ${cost.node.toFixed(1)} | ${cost.pg.toFixed(1)} |`);
  }
  for (let index = 0; index < 10; index += 1) {
    await before();
    await answer();
  }
  const commandStats = async () => {
    const counts = new Map<string, number>();
    for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) counts.set(match[1]!, Number(match[2]));
    return counts;
  };
  // Round trips of one answer, counted apart from the timed ones (the bump itself is left out).
  await before();
  const byName = await commandStats();
  const trips = await countRoundTrips(redis);
  await answer();
  await settle();
  const counted = await trips.stop();
  const after = await commandStats();
  const names = [...after].filter(([name, calls]) => name !== 'info' && calls !== (byName.get(name) ?? 0)).map(([name, calls]) => `${name} ${calls - (byName.get(name) ?? 0)}`);

  const samples: number[] = [];
  // The Redis socket too: the lookup's round trip and PostgreSQL's are timed at the sockets (steps.ts).
  const steps = flags.steps ? stepTimer((redis as unknown as { stream?: Socket }).stream) : undefined;
  const profiler = flags.profile ? await startProfile() : undefined;
  const meter = await startCpu(context.pool);
  const windowSize = flags.windows ? Number(flags.windows) : undefined;
  let windowCpu = process.cpuUsage();
  for (let index = 0; index < iterations; index += 1) {
    await before();
    const started = performance.now();
    steps?.start(started);
    await answer();
    const ended = performance.now();
    steps?.end(ended);
    samples.push(ended - started);
    if (windowSize && (index + 1) % windowSize === 0) {
      const used = process.cpuUsage(windowCpu);
      windowCpu = process.cpuUsage();
      const part = samples.slice(-windowSize).sort((a, b) => a - b);
      console.log(`answers ${index + 2 - windowSize}-${index + 1}: p50 ${part[Math.floor(part.length / 2)]!.toFixed(2)} ms, Node CPU ${((used.user + used.system) / 1000 / windowSize).toFixed(2)} ms per answer`);
    }
  }
  const cpu = await meter.stop();
  if (profiler) fs.writeFileSync(flags.profile!, JSON.stringify(await profiler.stop()));
  steps?.stop();
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!.toFixed(2);
  console.log(`${flags.question ?? flags.dashboard}, ${flags.cached ? 'cached' : 'cold'}, ${iterations} answers: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms`);
  if (cpu) console.log(`CPU per answer: Node ${(cpu[0] / iterations).toFixed(2)} ms (with the cache bump), PostgreSQL ${(cpu[1] / iterations).toFixed(2)} ms`);
  console.log(`round trips per answer: Redis ${counted.redis} (${names.join(', ')}), SQL ${counted.sql}`);
  if (steps) console.log(steps.report());
  console.log(`load average ${os.loadavg().map((n) => n.toFixed(1)).join(' ')}`);
} finally {
  await close();
}
