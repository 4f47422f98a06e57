/**
 * Whether an error means PostgreSQL cannot be reached or cannot take the
 * request right now (retry shortly), as opposed to a failed statement.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code ?? '';
  const message = error instanceof Error ? error.message : '';
  // Connection refused/reset, admin shutdown, cannot connect now, too many connections,
  // a checked-out client whose connection dropped (pg: "... is not queryable"); during a
  // failover also a write reaching a standby (25006) and no primary found yet (db/primary.ts).
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '53300', '25006', 'MH_NOT_PRIMARY'].includes(code) ||
    /Connection terminated|timeout exceeded when trying to connect|not queryable/i.test(message)
  );
}
