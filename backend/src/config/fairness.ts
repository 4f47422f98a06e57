import { z } from 'zod';

/**
 * The limits that keep one tenant from starving the others (issue 23): answer
 * budgets, admission of heavy work, live streams and per-event ingest limits.
 * Kept apart from env.ts so each capability's limits read together; every
 * variable is documented in the README's configuration table.
 */
const count = (min = 1) => z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(min, `must be >= ${min}`);

export const fairnessEnv = {
  /** Series one query may answer (group-by cardinality); more is a per-query 4xx naming the limit. */
  QUERY_MAX_SERIES: count().default(1_000),
  /** Cells (series x buckets) one request may answer, all its queries together. */
  QUERY_MAX_CELLS: count().default(1_000_000),
  /** Bytes of one /query response body. */
  QUERY_MAX_RESPONSE_BYTES: count(1024).default(32 * 1024 * 1024),
  /** Rows of one export.csv. */
  EXPORT_MAX_ROWS: count().default(500_000),
  /** Heavy requests (query, export, summary, variables) running at once per organization in one process. */
  ADMISSION_PER_ORG: count().default(4),
  /** Heavy requests running at once in one process, all organizations together. */
  ADMISSION_PER_PROCESS: count().default(16),
  /**
   * Heavy requests one organization may start per second in one process while another organization is
   * served too (bursts of twice as many at once); the rest wait like the above. 0: no limit. Alone, an
   * organization is never held.
   */
  ADMISSION_RATE_PER_ORG: count(0).default(50),
  /** How long a heavy request may wait for a slot before it is answered 429 with Retry-After. */
  ADMISSION_QUEUE_MS: count(0).default(2_000),
  /** Live streams open at once per API key, and per process. */
  LIVE_MAX_STREAMS_PER_KEY: count().default(4),
  LIVE_MAX_STREAMS_PER_PROCESS: count().default(200),
  /**
   * How long a stream over those limits waits for a slot before 429: refused at once, a client that
   * reconnects in a loop costs a request every few milliseconds; waiting, one every few seconds.
   */
  LIVE_QUEUE_MS: count(0).default(2_000),
  /** An open live stream costs one rate-limit request per this many seconds of its life. */
  LIVE_RATE_COST_SECONDS: count().default(10),
  /** Per-event ingest limits; an event over one is rejected alone, by index. */
  INGEST_MAX_ATTRIBUTES: count().default(100),
  INGEST_MAX_KEY_LENGTH: count().default(200),
  INGEST_MAX_STRING_LENGTH: count().default(8_192),
  INGEST_MAX_EVENT_BYTES: count(256).default(65_536),
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
};
