/**
 * The recurring-job runner on its own, in a process a test can watch and kill
 * (a runner that spins would freeze the test's own event loop): starts
 * `startJobs` on REDIS_URL with one job every JOB_EVERY_MS, prints one JSON
 * line per event on stdout (`{"event":"ran"}`, `{"event":"closed"}`), closes
 * the runner when the line `close` arrives on stdin, and then must exit by
 * itself. Its logs (pino JSON) go to stderr.
 */
import readline from 'node:readline';
import { loadConfig } from '../../src/config/env.js';
import { startJobs } from '../../src/jobs/queue.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { pino } from 'pino';

const say = (event: string): void => void process.stdout.write(`${JSON.stringify({ event })}\n`);
const config = loadConfig({ REDIS_URL: process.env.REDIS_URL, LOG_LEVEL: 'info' });
const logger = createLogger('info', pino.destination(2));
const runner = await startJobs({ config, logger, metrics: new Metrics() }, [
  { name: 'probe', everyMs: Number(process.env.JOB_EVERY_MS ?? 200), run: async () => say('ran') },
]);
say('started');
const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line.trim() !== 'close') return;
  input.close();
  process.stdin.destroy(); // stdin must not be what keeps the process alive
  void runner.close().then(() => say('closed'));
});
