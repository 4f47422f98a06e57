/**
 * The processes the suite owns: an embedded PostgreSQL, a redis-server and
 * backend processes, each on its own loopback port so the suite can kill and
 * restart them without touching anyone else's services.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../backend/src/db/embedded.js';
import { createLogger } from '../../backend/src/logger.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'backend/bin/metrics-hub.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready()) return;
    await sleep(100);
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
}

export class Postgres {
  private db?: EmbeddedDatabase;
  private readonly logger = createLogger('warn');
  constructor(private readonly dataDir: string) {}

  get url(): string {
    return this.db!.url;
  }

  async start(): Promise<void> {
    this.db = await startEmbeddedPostgres(this.dataDir, this.logger, { port: this.db?.port });
  }

  async stop(): Promise<void> {
    await this.db?.stop();
  }
}

export class RedisServer {
  private child?: ChildProcess;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitFor(`redis-server on ${this.port}`, () => portOpen(this.port));
  }

  /** Stopped hard, as a crash or a network cut would: cached answers and rate-limit counters are lost. */
  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await once(this.child, 'exit');
  }
}

/** `node backend/bin/metrics-hub.js serve` on a fixed loopback port, log to a file. */
export class Backend {
  private child?: ChildProcess;
  readonly url: string;
  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly logFile: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    const log = fs.openSync(this.logFile, 'a');
    this.child = spawn(process.execPath, [CLI, 'serve'], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    const child = this.child;
    // Generous: a start compiles the backend (tsx), and on two cores shared with other work that took 60 s.
    await waitFor(
      `backend ${this.name}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`backend ${this.name} exited with ${child.exitCode}; see ${this.logFile}`);
        return fetch(`${this.url}/health/live`).then(
          (response) => response.ok,
          () => false,
        );
      },
      180_000,
    );
  }

  async kill9(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await once(this.child, 'exit');
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const exited = once(this.child, 'exit');
    const killed = sleep(15_000).then(() => this.child?.kill('SIGKILL'));
    await Promise.race([exited, killed]);
  }
}
