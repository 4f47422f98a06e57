import { BaselineDetector, STREAM_SCORING, type BaselineOptions } from '../../../backend/src/anomalies/detectors/baseline.js';
import { loadCorpus, NAB_DIR } from './corpus.js';
import { normalise, optimiseThreshold, scoreFile, STANDARD_PROFILE, type ScoredFile } from './scorer.js';

const PUBLISHED: Array<[string, number]> = [
  ['ARTime', 74.9], ['Numenta HTM', 70.5], ['CAD OSE', 69.9], ['earthgecko Skyline', 58.2], ['KNN CAD', 58.0],
  ['Relative Entropy', 54.6], ['Random Cut Forest', 51.7], ['Twitter ADVec', 47.1], ['Windowed Gaussian', 39.6],
  ['Etsy Skyline', 35.7], ['Bayesian Changepoint', 17.7], ['random', 11.0], ['null', 0.0],
];

const overrides = process.argv[2] ? (JSON.parse(process.argv[2]) as BaselineOptions) : {};
const options: BaselineOptions = { ...STREAM_SCORING, ...overrides };

const corpus = await loadCorpus();
const scored: Array<ScoredFile & { category: string }> = corpus.map(({ category, file, points }) => {
  const detector = new BaselineDetector(options);
  return { category, file, scores: points.map((p) => detector.push(p).score) };
});

const best = optimiseThreshold(scored);
const pad = (s: string | number, n: number) => String(s).padEnd(n);
const num = (x: number, n: number) => x.toFixed(1).padStart(n);
console.log(`NAB standard profile, baseline detector, ${corpus.length} files in ${NAB_DIR}`);
console.log(`options: ${JSON.stringify(options)}; optimised threshold t = ${best.threshold.toFixed(4)}\n`);
console.log(`${pad('category', 24)}${pad('files', 7)}${pad('windows', 9)}${pad('detected', 10)}${pad('FP', 6)}score`);
const categories = [...new Set(scored.map((s) => s.category))];
let totals = { files: 0, windows: 0, detected: 0, fp: 0, raw: 0 };
for (const category of [...categories, 'all']) {
  const files = category === 'all' ? scored : scored.filter((s) => s.category === category);
  const sum = { files: files.length, windows: 0, detected: 0, fp: 0, raw: 0 };
  for (const { file, scores } of files) {
    const r = scoreFile(file, scores.map((s) => s >= best.threshold), STANDARD_PROFILE);
    sum.windows += file.windows.length;
    sum.detected += r.detectedWindows;
    sum.fp += r.falsePositives;
    sum.raw += r.raw;
  }
  if (category === 'all') totals = sum;
  // A category without windows has no normalised score; show its false positives' raw cost.
  const score = sum.windows > 0 ? num(normalise(sum.raw, sum.windows), 6) : `raw ${sum.raw.toFixed(2)}`;
  console.log(`${pad(category, 24)}${pad(sum.files, 7)}${pad(sum.windows, 9)}${pad(sum.detected, 10)}${pad(sum.fp, 6)}${score}`);
}
if (process.env.NAB_VERBOSE) {
  for (const { file, scores } of scored) {
    const r = scoreFile(file, scores.map((s) => s >= best.threshold));
    console.log(`${pad(file.name, 60)} win ${file.windows.length} det ${r.detectedWindows} fp ${r.falsePositives} raw ${r.raw.toFixed(2)}`);
  }
}
console.log(`\nStandard-profile score: ${best.score.toFixed(1)} (raw ${totals.raw.toFixed(2)}, t = ${best.threshold.toFixed(4)})`);

// How much the single optimised threshold flatters the score: pick it on every other file and
// score the remaining files with it.
for (const [fit, check] of [[0, 1], [1, 0]] as const) {
  const half = (k: number) => scored.filter((_, i) => i % 2 === k);
  const t = optimiseThreshold(half(fit)).threshold;
  const held = half(check);
  const raw = held.reduce((sum, { file, scores }) => sum + scoreFile(file, scores.map((s) => s >= t)).raw, 0);
  const windows = held.reduce((n, { file }) => n + file.windows.length, 0);
  console.log(`Threshold fitted on files ${fit === 0 ? 'with even' : 'with odd'} index (t = ${t.toFixed(4)}), score on the others: ${normalise(raw, windows).toFixed(1)} (their own optimum ${optimiseThreshold(held).score.toFixed(1)})`);
}
console.log('Published (full 58-file corpus, NAB v1.0 scoreboard):');
for (const [name, score] of PUBLISHED) console.log(`  ${pad(name, 22)}${num(score, 5)}`);
