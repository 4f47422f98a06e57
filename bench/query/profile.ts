import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';

/**
 * V8 CPU profiles of a stretch of a benchmark (the timed answers, not the
 * start-up or the warm-up that `node --cpu-prof` would hold too), and their
 * sum by function: self time (the function's own code) and inclusive time
 * (with what it calls, each sample counted once per function however deep
 * the recursion).
 *
 *   node --import tsx bench/query/profile.ts /tmp/bots.cpuprofile [--top 40]
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export async function startProfile(): Promise<{ stop(): Promise<Profile> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      return profile as unknown as Profile;
    },
  };
}

const nameOf = (node: ProfileNode) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/(node_modules|backend\/src|bench)\//, '$1/');
  return `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
};

export function summarize(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    // A sample's time is the delta to the next sample.
    const us = profile.timeDeltas[index + 1] ?? 0;
    total += us;
    const leaf = byId.get(id)!;
    self.set(nameOf(leaf), (self.get(nameOf(leaf)) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = nameOf(byId.get(at)!);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  });
  const table = (title: string, map: Map<string, number>) =>
    [`${title} (ms, % of ${(total / 1000).toFixed(0)} ms sampled)`, ...[...map].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => `${(us / 1000).toFixed(1).padStart(8)} ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`)].join('\n');
  return `${table('self', self)}\n\n${table('inclusive', inclusive)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, ...rest] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile.ts FILE.cpuprofile [--top N]');
  const topAt = rest.indexOf('--top');
  console.log(summarize(JSON.parse(fs.readFileSync(file, 'utf8')) as Profile, topAt >= 0 ? Number(rest[topAt + 1]) : 40));
}
