/**
 * A real Redis Sentinel deployment for tests and the reliability suite: a
 * master, a replica and three sentinels (quorum 2), each a `redis-server` /
 * `redis-sentinel` process from Debian's packages on a free loopback port with
 * its config file in a temp dir (the sentinels rewrite theirs, as in
 * production). Nothing is shared with other services on the machine.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

export const SENTINEL_MASTER_NAME = 'metricshub';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`${what} within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
}

/** One command on a short-lived connection: the suite's own view, independent of the backends' clients. */
async function command(port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1_000, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

class RedisProcess {
  private child?: ChildProcess;
  constructor(
    readonly port: number,
    private readonly binary: 'redis-server' | 'redis-sentinel',
    readonly configFile: string,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    this.child = spawn(this.binary, [this.configFile], { stdio: 'ignore' });
    await waitFor(`${this.binary} on port ${this.port} answering`, async () => ((await command(this.port, 'PING')) === 'PONG' ? true : undefined), 10_000);
  }

  /** SIGKILL: a crash or a cut cable, not a clean shutdown (no last replication, no save). */
  async kill(): Promise<void> {
    if (!this.child || !this.running) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }
}

export interface SentinelOptions {
  /** How long a master may not answer before a sentinel deems it down. */
  downAfterMs?: number;
}

export class SentinelGroup {
  private constructor(
    readonly dir: string,
    readonly dataNodes: RedisProcess[],
    readonly sentinels: RedisProcess[],
  ) {}

  /** Starts the master, its replica and three sentinels, and waits until the sentinels know each other and the replica. */
  static async start(options: SentinelOptions = {}): Promise<SentinelGroup> {
    for (const binary of ['redis-server', 'redis-sentinel']) {
      if (spawnSync(binary, ['--version']).status !== 0) {
        throw new Error(`the Sentinel tests need ${binary} on PATH (Debian: apt-get install -y redis-server redis-sentinel; bash .ci/run installs both)`);
      }
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mh-sentinel-'));
    const [masterPort, replicaPort, ...sentinelPorts] = await Promise.all(Array.from({ length: 5 }, freePort));
    const dataNode = (port: number, replicaOf?: number) => {
      const nodeDir = path.join(dir, `redis-${port}`);
      fs.mkdirSync(nodeDir);
      const file = path.join(nodeDir, 'redis.conf');
      const lines = [`port ${port}`, 'bind 127.0.0.1', `dir ${nodeDir}`, 'save ""', 'appendonly no', ...(replicaOf ? [`replicaof 127.0.0.1 ${replicaOf}`] : [])];
      fs.writeFileSync(file, `${lines.join('\n')}\n`);
      return new RedisProcess(port, 'redis-server', file);
    };
    const sentinel = (port: number) => {
      const nodeDir = path.join(dir, `sentinel-${port}`);
      fs.mkdirSync(nodeDir);
      const file = path.join(nodeDir, 'sentinel.conf');
      const lines = [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${nodeDir}`,
        `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${options.downAfterMs ?? 1_000}`,
        `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
      ];
      fs.writeFileSync(file, `${lines.join('\n')}\n`);
      return new RedisProcess(port, 'redis-sentinel', file);
    };
    const group = new SentinelGroup(dir, [dataNode(masterPort!), dataNode(replicaPort!, masterPort)], sentinelPorts.map(sentinel));
    try {
      for (const node of group.dataNodes) await node.start();
      for (const node of group.sentinels) await node.start();
      await group.waitUntilSettled();
    } catch (error) {
      await group.stop();
      throw error;
    }
    return group;
  }

  /** What a backend needs: REDIS_SENTINELS and REDIS_SENTINEL_NAME. */
  get env(): { REDIS_SENTINELS: string; REDIS_SENTINEL_NAME: string } {
    return { REDIS_SENTINELS: this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(','), REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME };
  }

  /** The master port the sentinels agree on now (a majority of those answering). */
  async masterPort(): Promise<number | undefined> {
    const votes = new Map<number, number>();
    for (const s of this.sentinels) {
      const answer = (await command(s.port, 'SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER_NAME).catch(() => undefined)) as [string, string] | undefined;
      if (answer) votes.set(Number(answer[1]), (votes.get(Number(answer[1])) ?? 0) + 1);
    }
    const [port, count] = [...votes].sort((a, b) => b[1] - a[1])[0] ?? [undefined, 0];
    return count >= 2 ? port : undefined;
  }

  private node(port: number): RedisProcess {
    return this.dataNodes.find((n) => n.port === port)!;
  }

  /** Every sentinel sees the master up, the replica linked and the other two sentinels: a failover can be authorised. */
  async waitUntilSettled(timeoutMs = 30_000): Promise<number> {
    return waitFor(
      'the sentinels agreeing on a master with a linked replica and knowing each other',
      async () => {
        const master = await this.masterPort();
        if (master === undefined) return undefined;
        const role = String(await command(master, 'INFO', 'replication'));
        if (!/^role:master/m.test(role) || !/^slave0:.*state=online/m.test(role)) return undefined;
        for (const s of this.sentinels) {
          const others = (await command(s.port, 'SENTINEL', 'sentinels', SENTINEL_MASTER_NAME)) as unknown[];
          const replicas = (await command(s.port, 'SENTINEL', 'replicas', SENTINEL_MASTER_NAME)) as string[][];
          const linked = replicas.some((fields) => fields.includes('slave') && !fields.some((f) => /s_down|o_down|disconnected/.test(f)));
          if (others.length < 2 || !linked) return undefined;
        }
        return master;
      },
      timeoutMs,
    );
  }

  /** Kills the current master (SIGKILL) and returns its port. */
  async killMaster(): Promise<number> {
    const master = await this.masterPort();
    if (master === undefined) throw new Error('the sentinels agree on no master');
    await this.node(master).kill();
    return master;
  }

  /** Waits until the sentinels promoted another node, and it answers as a master. */
  async waitForPromotion(formerMaster: number, timeoutMs = 30_000): Promise<number> {
    return waitFor(
      `a replica promoted in place of ${formerMaster}`,
      async () => {
        const master = await this.masterPort();
        if (master === undefined || master === formerMaster) return undefined;
        return /^role:master/m.test(String(await command(master, 'INFO', 'replication'))) ? master : undefined;
      },
      timeoutMs,
    );
  }

  /** Starts a stopped data node again; the sentinels turn a former master into a replica of the new one. */
  async restart(port: number): Promise<void> {
    await this.node(port).start();
  }

  /** Kills every data node (a whole-Redis outage); the sentinels stay up. */
  async killDataNodes(): Promise<void> {
    for (const node of this.dataNodes) await node.kill();
  }

  async startDataNodes(): Promise<void> {
    for (const node of this.dataNodes) if (!node.running) await node.start();
  }

  /** A short-lived client on the current master, for a test to read what the backends wrote. */
  async masterClient(): Promise<Redis> {
    const master = await this.masterPort();
    if (master === undefined) throw new Error('the sentinels agree on no master');
    return new Redis({ port: master, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.dataNodes].map((node) => node.kill()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
