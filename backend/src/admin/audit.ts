import type { Logger } from '../logger.js';

/** Who did an administrative action: the key that made the request, or the command line. */
export type Actor = { keyId: string; organizationId: string } | { cli: true } | { signal: string };

/**
 * One log line per admin action and key change, marked `audit: true` so log
 * pipelines can route them apart: who, what, on what, when (pino's `time`).
 */
export function audit(logger: Logger, actor: Actor, action: string, details: Record<string, unknown> = {}): void {
  logger.info({ audit: true, actor, action, ...details }, `audit: ${action}`);
}
