import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The reliability suite's short mode (test/reliability/run.ts): its own
 * PostgreSQL, Redis and two backends under load with kill -9, Redis and
 * PostgreSQL restarts, a hanging source, fuzzing, isolation, revocation and
 * limits. It exits non-zero when an event is lost or doubled, a tenant reads
 * another's data, or an unexpected 5xx occurs.
 */
test('reliability suite, short mode: 0 lost, 0 doubled, 0 leaks, 0 unexpected 5xx', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/reliability/run.ts', '--mode', 'short'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, output);
  assert.match(output, /PASSED: 0 lost, 0 doubled, 0 leaks, 0 unexpected 5xx/);
});
