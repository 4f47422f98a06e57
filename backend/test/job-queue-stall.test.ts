import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { updateJobScheduler } from 'bullmq/dist/esm/scripts/updateJobScheduler-12.js';
import { startRedisServer, type RedisServer } from './support/redis-server.js';
import { startStallProxy, type StallProxy } from './support/stall-proxy.js';

const CHILD = fileURLToPath(new URL('./support/job-runner-child.ts', import.meta.url));
/** BullMQ's request to schedule a scheduler's next tick (its updateJobScheduler script), by hash (EVALSHA) or body (EVAL). */
const NEXT_TICK_MARKERS = [createHash('sha1').update(updateJobScheduler.content).digest('hex'), 'Updates a job scheduler and adds next delayed job'];
/** How long an awaited step (a stop, a job run) may take before it counts as hung; a stop gives up on Redis after 2 s. */
const BOUND_MS = 30_000;

interface Runner {
  child: ChildProcess;
  /** Resolves with the next stdout event of this name. */
  next(event: string): Promise<void>;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Resolves when the runner's log (stderr) has a line matching `pattern`. */
function waitForLine(runner: Runner, pattern: RegExp): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!pattern.test(runner.stderr())) return;
      runner.child.stderr!.off('data', check);
      resolve();
    };
    runner.child.stderr!.on('data', check);
    check();
  });
}

function startRunner(redisUrl: string): Runner {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, REDIS_URL: redisUrl, JOB_EVERY_MS: '200' }, stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting = new Map<string, Array<() => void>>();
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const { event } = JSON.parse(line) as { event: string };
    for (const resolve of waiting.get(event) ?? []) resolve();
    waiting.delete(event);
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    child,
    next: (event) => new Promise((resolve) => waiting.set(event, [...(waiting.get(event) ?? []), resolve])),
    stderr: () => stderr,
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  };
}

/** What `waiting` resolves to, or undefined if it has not within BOUND_MS. */
async function withinBound<T>(waiting: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), BOUND_MS)));
  try {
    return await Promise.race([waiting, bound]);
  } finally {
    clearTimeout(timer);
  }
}

async function within(waiting: Promise<void>, what: string): Promise<void> {
  if ((await withinBound(waiting.then(() => true))) !== true) assert.fail(`no ${what} within ${BOUND_MS / 1000} s`);
}

async function assertStops(runner: Runner): Promise<void> {
  runner.child.stdin!.write('close\n');
  const stopped = await withinBound(runner.exited);
  if (!stopped) {
    const cpu = await cpuSeconds(runner.child.pid!).catch(() => NaN);
    assert.fail(`the runner did not stop within ${BOUND_MS / 1000} s of close (it used ${cpu} s of CPU)\n${runner.stderr().slice(-2000)}`);
  }
  assert.deepEqual(stopped, { code: 0, signal: null }, runner.stderr().slice(-2000));
}

/** CPU seconds a process has used (utime + stime in /proc, Linux). */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe('the job runner when Redis stalls', () => {
  let redis: RedisServer;
  let proxy: StallProxy;

  before(async () => {
    redis = await startRedisServer();
    proxy = await startStallProxy(redis.port);
  });
  after(async () => {
    await proxy?.close();
    await redis?.stop();
  });

  test('closing while the worker waits on Redis to schedule the next tick stops at once, without spinning', { timeout: 120_000 }, async () => {
    const runner = startRunner(`redis://127.0.0.1:${proxy.port}/0`);
    try {
      await runner.next('ran');
      // The worker, having taken a tick, asks Redis to schedule the next one (BullMQ's
      // updateJobScheduler script). Hold exactly that request, by its script hash or body.
      await proxy.stallAt(NEXT_TICK_MARKERS);
      await assertStops(runner);
    } finally {
      if (runner.child.exitCode === null && runner.child.signalCode === null) runner.child.kill('SIGKILL');
    }
  });

  test('a next tick Redis refuses to schedule (READONLY from a demoted master) is scheduled again, and the jobs go on', { timeout: 120_000 }, async () => {
    const runner = startRunner(`redis://127.0.0.1:${proxy.port}/0`);
    try {
      await runner.next('ran');
      await proxy.refuseAt(NEXT_TICK_MARKERS, "-READONLY You can't write against a read only replica.\r\n");
      // One tick already scheduled may still run; a second run needs the schedule back.
      await within(runner.next('ran'), 'job run after the refused tick');
      await within(runner.next('ran'), 'second job run after the refused tick');
      await assertStops(runner);
    } finally {
      if (runner.child.exitCode === null && runner.child.signalCode === null) runner.child.kill('SIGKILL');
    }
  });

  test('a Redis paused while the runner starts neither blocks the start nor the stop; the jobs run once it answers', { timeout: 120_000 }, async () => {
    redis.process.kill('SIGSTOP');
    let runner: Runner | undefined;
    try {
      runner = startRunner(redis.url);
      const started = runner.next('started');
      const said = waitForLine(runner, /job schedulers not registered yet: Redis has not answered/);
      await started;
      await said;
      redis.process.kill('SIGCONT');
      await runner.next('ran');
      await assertStops(runner);
    } finally {
      redis.process.kill('SIGCONT');
      if (runner && runner.child.exitCode === null && runner.child.signalCode === null) runner.child.kill('SIGKILL');
    }
  });

  test('a Redis paused when the runner closes does not hold the close', { timeout: 120_000 }, async () => {
    const runner = startRunner(redis.url);
    try {
      await runner.next('ran');
      redis.process.kill('SIGSTOP');
      await assertStops(runner);
    } finally {
      redis.process.kill('SIGCONT');
      if (runner.child.exitCode === null && runner.child.signalCode === null) runner.child.kill('SIGKILL');
    }
  });

  test('a Redis restarted empty (no persistence) gets the job schedulers back, and the jobs run again', { timeout: 120_000 }, async () => {
    const runner = startRunner(redis.url);
    try {
      await runner.next('ran');
      await redis.stop();
      redis = await startRedisServer(redis.port);
      await within(runner.next('ran'), 'a job run after the restart');
      await assertStops(runner);
    } finally {
      if (runner.child.exitCode === null && runner.child.signalCode === null) runner.child.kill('SIGKILL');
    }
  });
});
