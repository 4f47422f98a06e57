import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readPointsCsv } from '../../../backend/src/anomalies/detect-cli.js';
import { parseTimestamp } from '../../../backend/src/anomalies/detect-cli.js';
import type { Point } from '../../../backend/src/anomalies/detectors/types.js';
import { windowRows, type LabelledFile } from './scorer.js';

export const NAB_DIR = process.env.NAB_DIR ?? '/work/shared/data/nab';

export interface NabSeries {
  category: string;
  file: LabelledFile;
  points: Point[];
}

/** Every CSV listed in combined_windows.json, with its windows turned into row ranges. */
export async function loadCorpus(dir = NAB_DIR): Promise<NabSeries[]> {
  const labels = JSON.parse(await readFile(join(dir, 'combined_windows.json'), 'utf8')) as Record<string, Array<[string, string]>>;
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
