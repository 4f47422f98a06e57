import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { CsvError, parse } from 'csv-parse';
import { BaselineDetector, STREAM_SCORING, type BaselineOptions } from './detectors/baseline.js';
import type { Point } from './detectors/types.js';

export interface CsvPoint extends Point {
  /** 1-based line of the row in the file, for error messages. */
  line: number;
  /** The timestamp as written in the file, echoed in the output. */
  timestamp: string;
}

const NAIVE_DATE_TIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** Epoch ms of a CSV timestamp: ISO 8601 (no zone means UTC, as in NAB files) or epoch seconds / ms. */
export function parseTimestamp(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    // Ten digits are epoch seconds until the year 2286; more are milliseconds.
    return n < 1e11 ? n * 1000 : n;
  }
  const iso = NAIVE_DATE_TIME.test(text) ? `${text.replace(' ', 'T')}Z` : text;
  return Date.parse(iso);
}

/**
 * Rows of a `timestamp,value` CSV file, read as a stream. A first line whose value column is not
 * a number is taken as the header. Any other malformed row stops the read with an error that
 * names the file and line, so the user can find it.
 */
export async function* readPointsCsv(file: string): AsyncGenerator<CsvPoint> {
  const parser = parse({ info: true, skip_empty_lines: true, trim: true, relax_column_count: true, comment: '#' });
  const source = createReadStream(file);
  // pipe() does not forward errors; a missing file must end the read, not crash the process.
  source.on('error', (error) => parser.destroy(new Error(`cannot read ${file}: ${error.message}`)));
  source.pipe(parser);
  let first = true;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      const isHeader = first && record.length >= 2 && Number.isNaN(Number(record[1]));
      first = false;
      if (isHeader) continue;
      if (record.length !== 2) {
        throw new Error(`${file}:${line}: expected 2 columns (timestamp,value), got ${record.length}`);
      }
      const [timestamp, raw] = record as [string, string];
      const time = parseTimestamp(timestamp);
      if (!Number.isFinite(time)) throw new Error(`${file}:${line}: '${timestamp}' is not a timestamp (use ISO 8601 or epoch seconds)`);
      const value = raw === '' ? Number.NaN : Number(raw);
      if (!Number.isFinite(value)) throw new Error(`${file}:${line}: value '${raw}' is not a number`);
      yield { time, value, line, timestamp };
    }
  } catch (error) {
    if (error instanceof CsvError) throw new Error(`${file}:${parser.info.lines}: ${error.message}`);
    throw error;
  } finally {
    source.destroy();
    parser.destroy();
  }
}

export interface DetectCliOptions {
  /** Where the scores go; standard output by default. */
  output?: NodeJS.WritableStream;
  /** Overrides of the stream-scoring settings of the baseline detector. */
  baseline?: BaselineOptions;
}

/**
 * `metrics-hub detect <file.csv>`: one line `timestamp,value,score` per data row, where score in
 * [0, 1] is the baseline detector's anomaly score computed from that row and earlier rows only.
 */
export async function runDetectCli(file: string, options: DetectCliOptions = {}): Promise<void> {
  const output = options.output ?? process.stdout;
  const detector = new BaselineDetector({ ...STREAM_SCORING, ...options.baseline });
  const write = async (text: string) => {
    if (!output.write(text)) await once(output, 'drain');
  };
  await write('timestamp,value,score\n');
  // Rows are scored in file order: real logs have clock steps backwards (NAB's machine
  // temperature file repeats an hour), and "earlier rows" is what the stream contract promises.
  for await (const point of readPointsCsv(file)) {
    const { score } = detector.push(point);
    await write(`${point.timestamp},${point.value},${score.toFixed(6)}\n`);
  }
}
