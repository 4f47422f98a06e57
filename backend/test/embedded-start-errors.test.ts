/**
 * Every way the embedded PostgreSQL can fail to start is one sentence with the
 * real cause and what to do: its data locked by another process, its port
 * taken, a folder the `postgres` OS user cannot enter (as root).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openEmbeddedPostgres, startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.js';
import { checkReachableByPostgresUser, EmbeddedStartError, explainStartFailure } from '../src/db/embedded-errors.js';
import { isAlive, readRecord, recordPath, writeRecord } from '../src/db/embedded-record.js';
import { createLogger } from '../src/logger.js';

const logger = createLogger('silent');
let tmp: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-embedded-errors-'));
  // mkdtemp makes it 700; as root, the postgres OS user must be able to enter it.
  await fs.chmod(tmp, 0o755);
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('explaining a failed start from postgres log', () => {
  test('a lock held by another postmaster names its PID and what to do', () => {
    const log = 'FATAL:  lock file "postmaster.pid" already exists\nHINT:  Is another postmaster (PID 4242) running in data directory "/x/postgres"?\n';
    const error = explainStartFailure('/x/postgres', 5555, log, undefined);
    assert.ok(error instanceof EmbeddedStartError);
    assert.equal(error.message, 'the PostgreSQL data in /x/postgres is locked by PID 4242: stop that process (kill 4242) or set DATA_DIR to another folder.');
  });

  test('a port in use says which port', () => {
    const log = 'LOG:  could not bind IPv4 address "127.0.0.1": Address already in use\nWARNING:  could not create listen socket for "127.0.0.1"\nFATAL:  could not create any TCP/IP sockets\n';
    assert.match(explainStartFailure('/x/postgres', 5555, log, undefined).message, /^port 5555 on 127\.0\.0\.1 is taken by another process/);
  });

  test('a permission problem names the folder and the user', () => {
    const log = 'FATAL:  could not open file "global/pg_filenode.map": Permission denied\n';
    const message = explainStartFailure('/x/postgres', 5555, log, undefined).message;
    assert.match(message, /^the embedded PostgreSQL may not use \/x\/postgres \(could not open file "global\/pg_filenode\.map": Permission denied\)/);
    assert.match(message, /readable and writable by the user PostgreSQL runs as \("postgres" when you are root\)/);
  });

  test('anything else keeps postgres last lines and points at LOG_LEVEL=debug', () => {
    const message = explainStartFailure('/x/postgres', 5555, 'LOG:  one\nFATAL:  something new\n', undefined).message;
    assert.match(message, /did not start from \/x\/postgres: LOG: {2}one \| FATAL: {2}something new; run with LOG_LEVEL=debug/);
  });
});

test('a folder the postgres user cannot enter (root home, mode 700) stops the start with one sentence', async () => {
  const closed = path.join(tmp, 'home');
  await fs.mkdir(path.join(closed, 'clone'), { recursive: true });
  await fs.chmod(closed, 0o700);
  await assert.rejects(checkReachableByPostgresUser([path.join(closed, 'clone', '.metrics-hub', 'postgres')]), (error: Error) => {
    assert.ok(error instanceof EmbeddedStartError);
    assert.match(error.message, new RegExp(`cannot enter ${closed} \\(mode 700\\).*put Metrics Hub in a folder it can reach .*set DATABASE_URL`));
    return true;
  });
  await fs.chmod(closed, 0o755);
  await checkReachableByPostgresUser([path.join(closed, 'clone', '.metrics-hub', 'postgres')]);
});

describe('a real embedded PostgreSQL', () => {
  let database: EmbeddedDatabase | undefined;
  const dataDir = () => path.join(tmp, 'data');
  after(async () => {
    await database?.stop();
  });

  test('is recorded for other processes, reused by them, and its lock is explained when the record is missing', { timeout: 120_000 }, async () => {
    database = await startEmbeddedPostgres(dataDir(), logger, { role: 'serve' });
    const record = await readRecord(dataDir());
    assert.equal(record?.pid, database.pid);
    assert.equal(record?.url, database.url);
    assert.deepEqual(record?.owner, { pid: process.pid, role: 'serve' });

    const reused = await openEmbeddedPostgres(dataDir(), logger, 'cli');
    assert.equal(reused.how, 'reused', 'a CLI command uses the running one');
    assert.equal(reused.url, database.url);
    assert.equal(reused.stop, undefined, 'and leaves it running');

    // As if started by something that left no record: postgres' own lock names the holder.
    await fs.rm(recordPath(dataDir()));
    await assert.rejects(openEmbeddedPostgres(dataDir(), logger, 'cli'), (error: Error) => {
      assert.ok(error instanceof EmbeddedStartError);
      assert.match(error.message, new RegExp(`locked by PID ${database!.pid}.*kill ${database!.pid}.*DATA_DIR`));
      return true;
    });
  });

  test('a database whose owner died (a server killed with -9) is adopted, and stopped by its new owner', { timeout: 60_000 }, async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadOwner = Number(gone.stdout);
    await writeRecord(dataDir(), { pid: database!.pid, port: database!.port, url: database!.url, owner: { pid: deadOwner, role: 'serve' }, startedAt: new Date().toISOString() });
    const adopted = await openEmbeddedPostgres(dataDir(), logger, 'serve');
    assert.equal(adopted.how, 'adopted');
    assert.equal(adopted.pid, database!.pid);
    assert.deepEqual((await readRecord(dataDir()))?.owner, { pid: process.pid, role: 'serve' });
    await adopted.stop!();
    assert.equal(isAlive(database!.pid), false, 'the postmaster stopped');
    assert.equal(await readRecord(dataDir()), undefined, 'and its record is gone');
  });
});
