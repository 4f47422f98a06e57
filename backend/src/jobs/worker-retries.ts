import { isNotConnectionError, Worker } from 'bullmq';
import type { Logger } from '../logger.js';

/** First pause after a Redis connection error; it doubles per failure up to the worker's runRetryDelay. */
const FIRST_PAUSE_MS = 250;
/** BullMQ's error when the worker gave up scheduling a job scheduler's next tick: the scheduler must be registered again. */
export const LOST_NEXT_TICK = /^Failed to add repeatable job for next iteration/;

interface RetryOptions {
  delayInMs?: number;
  maxRetries?: number;
  onlyEmitError?: boolean;
  span?: { recordException(message: string): void };
}
type Retry = <T>(fn: () => Promise<T>, options: RetryOptions) => Promise<T | undefined>;

/**
 * Paces and ends the worker's own retries of Redis commands.
 *
 * BullMQ 5.81's `Worker.retryIfFailed` retries a command that failed on a
 * connection error forever, and without any pause once the worker is closing.
 * So a close while the worker waited on Redis (a stalled or paused server) to
 * schedule a job scheduler's next tick spun the process at 100% CPU for good:
 * closing ends the connection, every retry fails at once with "Connection is
 * closed.", and the loop never yields to a timer. BullMQ 6 stops retrying
 * when the worker closes; this does the same on 5.81, and while the worker
 * runs it backs off exponentially (250 ms doubling up to `runRetryDelay`)
 * with a log line per failure, rather than BullMQ's fixed pause. It does not
 * give up while the worker runs, as BullMQ does not: a given-up job completion
 * would end the worker's loop for good. A next tick BullMQ gives up (an error
 * that is not a connection error, e.g. READONLY from a demoted master) is
 * reported as LOST_NEXT_TICK, and queue.ts registers the schedulers again.
 *
 * `retryIfFailed` is private in BullMQ's types, hence the instance property;
 * the check below fails at startup, not silently, if a BullMQ upgrade renames it.
 */
export function paceWorkerRetries(worker: Worker, logger: Logger): void {
  const internals = worker as unknown as { retryIfFailed?: Retry; opts: { runRetryDelay?: number } };
  if (typeof internals.retryIfFailed !== 'function') {
    throw new Error('bullmq Worker.retryIfFailed is gone: check jobs/worker-retries.ts against the installed BullMQ (its fix may be upstream now)');
  }
  const maxPauseMs = internals.opts.runRetryDelay ?? 15_000;
  const closing = new Promise<void>((resolve) => worker.once('closing', () => resolve()));
  const stopping = () => worker.closing !== undefined;

  const retry: Retry = async (fn, options) => {
    for (let failures = 1; ; failures += 1) {
      try {
        return await fn();
      } catch (error) {
        const failure = error as Error;
        options.span?.recordException(failure.message);
        if (isNotConnectionError(failure)) {
          if (!stopping() && !worker.isPaused()) worker.emit('error', failure);
          if (options.onlyEmitError) return undefined;
          throw failure;
        }
        if (stopping()) {
          // The connection ended because the worker is closing: nothing to retry for.
          if (options.onlyEmitError) return undefined;
          throw failure;
        }
        if (options.maxRetries !== undefined && failures >= options.maxRetries) throw failure;
        const pauseMs = Math.min(FIRST_PAUSE_MS * 2 ** (failures - 1), Math.max(maxPauseMs, FIRST_PAUSE_MS));
        logger.warn({ reason: failure.message, failures, retryInMs: pauseMs }, `job worker: Redis connection error, retrying in ${pauseMs} ms`);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, pauseMs))), closing]);
        clearTimeout(timer);
      }
    }
  };
  Object.defineProperty(worker, 'retryIfFailed', { value: retry, configurable: true, writable: true });
}
