import { Router } from 'express';

export interface ReadinessResult {
  ok: boolean;
  /** Human-readable state, e.g. "ok", "in-process (REDIS_URL not set)", or the failure reason. */
  detail: string;
  latencyMs?: number;
  /** A degraded-but-serving dependency (cache fallback) does not fail readiness. */
  critical?: boolean;
}

export interface ReadinessCheck {
  name: string;
  check(): Promise<ReadinessResult>;
}

const CHECK_TIMEOUT_MS = 2_000;

async function runCheck(check: ReadinessCheck): Promise<ReadinessResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<ReadinessResult>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${CHECK_TIMEOUT_MS} ms` }), CHECK_TIMEOUT_MS);
    });
    const result = await Promise.race([check.check(), timeout]);
    return { ...result, latencyMs: result.latencyMs ?? Math.round(performance.now() - started) };
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : String(error), latencyMs: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}

/** `/health/live` says the process runs; `/health/ready` says whether it can serve (503 with the reason if not). */
export function healthRouter(checks: () => ReadinessCheck[]): Router {
  const router = Router();
  router.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/health/ready', async (_req, res) => {
    const list = checks();
    const results = await Promise.all(list.map(runCheck));
    const entries = Object.fromEntries(list.map((check, index) => [check.name, results[index]!]));
    const failing = list.filter((check, index) => !results[index]!.ok && results[index]!.critical !== false).map((check) => check.name);
    res.status(failing.length === 0 ? 200 : 503).json({
      status: failing.length === 0 ? 'ready' : 'unavailable',
      ...(failing.length > 0 && { reason: failing.map((name) => `${name}: ${entries[name]!.detail}`).join('; ') }),
      checks: entries,
    });
  });
  return router;
}
