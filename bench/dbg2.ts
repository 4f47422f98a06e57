import { loadCatalog } from '../backend/src/catalog/load.js';
import { loadRules } from '../backend/src/anomalies/rules.js';
import { demoSeries } from './anomaly/business/demo.js';
import { evaluate } from './anomaly/business/evaluate.js';
const c = loadCatalog();
for (const id of process.argv.slice(2)) {
const mr = loadRules(c).find(r => r.rule.id === id)!;
for (const s of demoSeries(c, mr.metric, mr.rule.groupBy)!) {
  const ev = evaluate(mr, s);
  ev.forEach((e, i) => { if (e.severity !== 'healthy' && (i === 0 || ev[i-1]!.severity === 'healthy')) {
    const b = s.buckets.slice(Math.max(0, i-3), i+1);
    console.log(s.name, new Date(e.bucket).toISOString(), e.severity, b.map(x => x.numerator !== undefined ? `${x.numerator}/${x.denominator}` : (x.values ? Math.max(...x.values) : x.sum)).join(' '), s.incidents.map(x=>new Date(x.start).toISOString()).join(','));
  }});
}}
