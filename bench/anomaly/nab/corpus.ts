import { access, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fromRepoRoot } from '../../../backend/src/config/paths.js';
import { readPointsCsv } from '../../../backend/src/anomalies/detect-cli.js';
import { parseTimestamp } from '../../../backend/src/anomalies/detect-cli.js';
import type { Point } from '../../../backend/src/anomalies/detectors/types.js';
import { windowRows, type LabelledFile } from './scorer.js';

/**
 * The corpus: NAB_DIR (relative paths from the repository root), by default the team's copy
 * in ../shared/data/nab next to the repository. Either a checkout of
 * https://github.com/numenta/NAB (data/ and labels/combined_windows.json) or a flat copy
 * (the category folders next to combined_windows.json).
 */
export const NAB_DIR = fromRepoRoot(process.env.NAB_DIR || '../shared/data/nab');

const exists = (file: string) => access(file).then(() => true, () => false);

/** Where the CSV category folders and combined_windows.json are, in either layout. */
async function corpusLayout(dir: string): Promise<{ data: string; labels: string }> {
  if (await exists(join(dir, 'labels', 'combined_windows.json'))) return { data: join(dir, 'data'), labels: join(dir, 'labels', 'combined_windows.json') };
  if (await exists(join(dir, 'combined_windows.json'))) return { data: dir, labels: join(dir, 'combined_windows.json') };
  throw new Error(`no NAB corpus in ${dir}: set NAB_DIR to a checkout of https://github.com/numenta/NAB (git clone https://github.com/numenta/NAB), or to a folder with its category folders and combined_windows.json`);
}

export interface NabSeries {
  category: string;
  file: LabelledFile;
  points: Point[];
}

/** Every CSV listed in combined_windows.json, with its windows turned into row ranges. */
export async function loadCorpus(root = NAB_DIR): Promise<NabSeries[]> {
  const layout = await corpusLayout(root);
  const dir = layout.data;
  const labels = JSON.parse(await readFile(layout.labels, 'utf8')) as Record<string, Array<[string, string]>>;
  const series: NabSeries[] = [];
  for (const category of (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    for (const name of (await readdir(join(dir, category))).filter((f) => f.endsWith('.csv')).sort()) {
      const key = `${category}/${name}`;
      const windows = labels[key];
      if (windows === undefined) throw new Error(`${key} has no entry in combined_windows.json`);
      const points: Point[] = [];
      for await (const p of readPointsCsv(join(dir, key))) points.push({ time: p.time, value: p.value });
      const times = points.map((p) => p.time);
      const parsed = windows.map(([s, e]) => [parseTimestamp(s), parseTimestamp(e)] as const);
      series.push({ category, points, file: { name: key, rows: points.length, windows: windowRows(key, times, parsed) } });
    }
  }
  return series;
}
