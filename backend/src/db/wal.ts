/**
 * WAL positions (PostgreSQL `pg_lsn`, written `16/B374D848`) as bigint, so
 * they compare and travel (Redis, logs) as plain decimal strings.
 */
export type WalPosition = bigint;

export function parseLsn(text: string): WalPosition {
  const match = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text.trim());
  if (!match) throw new Error(`'${text}' is not a WAL position (pg_lsn, e.g. 0/16B3748)`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

export function formatLsn(position: WalPosition): string {
  return `${(position >> 32n).toString(16).toUpperCase()}/${(position & 0xffffffffn).toString(16).toUpperCase()}`;
}

export const maxPosition = (a: WalPosition | undefined, b: WalPosition | undefined): WalPosition | undefined =>
  a === undefined ? b : b === undefined ? a : a > b ? a : b;

/**
 * Where the primary's WAL ends right now. Read after a COMMIT returned, it is
 * at or past that commit's record: a standby that replayed up to it sees the
 * commit. (The insert position, not the write position: it never lags a commit
 * made with `synchronous_commit = off`.)
 */
export const CURRENT_WAL_POSITION_SQL = 'SELECT pg_current_wal_insert_lsn()::text AS lsn';
