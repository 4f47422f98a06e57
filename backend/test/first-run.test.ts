/**
 * The first run as the README tells it: `npm start` from the repository root on the
 * embedded PostgreSQL, CLI commands from the root and from backend/ against the same
 * database while it runs, and a signal to `npm start` that stops every process it started.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(REPO_ROOT, 'backend/bin/metrics-hub.js');
const run = promisify(execFile);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Every process below `pid`, from /proc (children of children included). */
async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Field 4 is the parent PID; the command name (field 2) may hold spaces, so read after its ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid) parents.set(Number(entry), ppid);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

let dataDir: string;
before(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-first-run-'));
});
/** Every `npm start` of the file: one a failed assertion left running would keep the test process (and npm test) alive. */
const startedPids: number[] = [];
after(async () => {
  for (const pid of startedPids) {
    if (!alive(pid)) continue;
    const below = await descendants(pid);
    for (const stray of [pid, ...below]) if (alive(stray)) process.kill(stray, 'SIGKILL');
  }
  await fs.rm(dataDir, { recursive: true, force: true });
});

interface Started {
  npm: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

async function npmStart(): Promise<Started> {
  const port = await freePort();
  const npm = spawn('npm', ['start'], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, DEMO_DATA: 'off', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  startedPids.push(npm.pid!);
  let output = '';
  npm.stdout!.on('data', (chunk) => (output += chunk));
  npm.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
  await waitFor(`npm start ready on port ${port}`, async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200, 200_000).catch((error: Error) => {
    npm.kill('SIGKILL');
    throw new Error(`${error.message}; output:\n${output}`);
  });
  return { npm, port, output: () => output, exited };
}

/** Signals `npm start` and checks that nothing it started survives. */
async function stopAndCheck(started: Started, signal: NodeJS.Signals): Promise<void> {
  const below = await descendants(started.npm.pid!);
  assert.ok(below.length >= 2, `npm start runs the server and PostgreSQL below it (found ${below.length} processes)`);
  started.npm.kill(signal);
  assert.equal(await started.exited, 0, `npm start exits cleanly on ${signal}; output:\n${started.output()}`);
  await waitFor(`every process below npm start to exit after ${signal}`, () => below.every((pid) => !alive(pid)), 30_000);
  assert.equal(await portAnswers(started.port), false, `port ${started.port} is free`);
  await assert.rejects(fs.access(path.join(dataDir, 'embedded-postgres.json')), 'the record of the running database is removed');
  assert.doesNotMatch(started.output(), /terminating connection due to administrator command|error during shutdown|connection lost|timed out/, 'no warnings about connections cut during the stop');
}

describe('npm start on the embedded PostgreSQL', () => {
  test('CLI commands reuse the running database from any folder, and SIGTERM to npm start stops every process', { timeout: 300_000 }, async () => {
    const started = await npmStart();
    const env = { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir };
    // From the repository root, as the README says, and from backend/ (where npm start used to keep its data).
    await run(process.execPath, [CLI, 'orgs', 'create', 'acme'], { cwd: REPO_ROOT, env });
    const { stdout } = await run(process.execPath, [CLI, 'keys', 'create', '--org', 'acme', '--scope', 'admin'], { cwd: path.join(REPO_ROOT, 'backend'), env });
    const key = stdout.trim().split('\n').at(-1)!;
    const whoami = await fetch(`http://127.0.0.1:${started.port}/api/v1/whoami`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(whoami.status, 200, 'the running server knows the key the CLI created');
    assert.equal(((await whoami.json()) as { organization: { name: string } }).organization.name, 'acme');
    await stopAndCheck(started, 'SIGTERM');
  });

  test('SIGINT (Ctrl-C) to npm start stops every process too, on the same data', { timeout: 300_000 }, async () => {
    const started = await npmStart();
    const { stdout } = await run(process.execPath, [CLI, 'orgs', 'list'], { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir } });
    assert.match(stdout, /^acme\t/m, 'the data of the first start is there');
    await stopAndCheck(started, 'SIGINT');
  });

  test('the embedded PostgreSQL stopped from outside stops npm start too, saying why and what to do', { timeout: 300_000 }, async () => {
    const started = await npmStart();
    const below = await descendants(started.npm.pid!);
    const record = JSON.parse(await fs.readFile(path.join(dataDir, 'embedded-postgres.json'), 'utf8')) as { pid: number };
    assert.ok(below.includes(record.pid), 'the recorded postmaster runs below npm start');
    // What `pg_ctl stop -m fast` (or a stray Ctrl-C to the postmaster alone) does.
    process.kill(record.pid, 'SIGINT');
    assert.notEqual(await started.exited, 0, `npm start fails when its database is gone; output:\n${started.output()}`);
    assert.match(started.output(), /the embedded PostgreSQL \(PID \d+, data in .*\) stopped while metrics-hub was running, so metrics-hub stops too; run it again \(npm start\)/);
    await waitFor('every process below npm start to exit', () => below.every((pid) => !alive(pid)), 30_000);
    assert.equal(await portAnswers(started.port), false, `port ${started.port} is free`);
    await assert.rejects(fs.access(path.join(dataDir, 'embedded-postgres.json')), 'the record of the stopped database is removed');
    // And the next start finds its data again.
    const again = await npmStart();
    const { stdout } = await run(process.execPath, [CLI, 'orgs', 'list'], { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir } });
    assert.match(stdout, /^acme\t/m);
    await stopAndCheck(again, 'SIGTERM');
  });
});
