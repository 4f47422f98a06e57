import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * What a running embedded PostgreSQL leaves in DATA_DIR so that other Metrics Hub
 * processes (the CLI while `serve` runs, a second `serve`) connect to it instead of
 * starting a second postmaster on the same data: written once it is ready, removed
 * when the process that owns it stops it.
 */
export interface EmbeddedRecord {
  /** The postmaster's PID (from its postmaster.pid). */
  pid: number;
  port: number;
  url: string;
  /** The Metrics Hub process that stops it: `serve` stops it on shutdown, a CLI command when done. */
  owner: { pid: number; role: EmbeddedRole };
  startedAt: string;
}

export type EmbeddedRole = 'serve' | 'cli';

export const RECORD_FILE = 'embedded-postgres.json';

export function recordPath(dataDir: string): string {
  return path.join(dataDir, RECORD_FILE);
}

export async function readRecord(dataDir: string): Promise<EmbeddedRecord | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(recordPath(dataDir), 'utf8')) as EmbeddedRecord;
    return Number.isInteger(parsed.pid) && Number.isInteger(parsed.port) && typeof parsed.url === 'string' && parsed.owner ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export async function writeRecord(dataDir: string, record: EmbeddedRecord): Promise<void> {
  // Written then renamed, so a reader never sees half a file. Mode 600: it holds the password.
  const file = recordPath(dataDir);
  const temporary = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(temporary, file);
}

/** Removes the record only if it still describes `pid`: a newer postmaster's record stays. */
export async function removeRecord(dataDir: string, pid: number): Promise<void> {
  const current = await readRecord(dataDir);
  if (current && current.pid !== pid) return;
  await fs.rm(recordPath(dataDir), { force: true });
}

/** True while a process with this PID exists (EPERM: it exists, under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The PID in PostgreSQL's own lock file, when it names a live process. */
export async function lockHolder(pgDir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await fs.readFile(path.join(pgDir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}
