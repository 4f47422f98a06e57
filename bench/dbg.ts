import { loadCatalog } from '../backend/src/catalog/load.js';
import { loadRules } from '../backend/src/anomalies/rules.js';
import { demoSeries } from './anomaly/business/demo.js';
import { syntheticSeries } from './anomaly/business/synthetic.js';
import { emptyTally, evaluate, score, ruleStep } from './anomaly/business/evaluate.js';
const c = loadCatalog();
const rules = loadRules(c);
const syn = syntheticSeries();
const [id, json] = process.argv.slice(2);
const grid: any[] = JSON.parse(json!);
const base = rules.find(r => r.rule.id === id)!;
for (const over of grid) {
  const mr = { metric: base.metric, rule: { ...base.rule, ...over } as any };
  for (const [name, ss] of [['demo', demoSeries(c, base.metric, mr.rule.groupBy)!], ['syn', syn.filter(s => s.metric === base.metric.key)]] as const) {
    const t = emptyTally();
    for (const s of ss) { const st = ruleStep(mr, s); if (typeof st !== 'number') continue; score(evaluate(mr, s), st, mr, s.incidents, () => emptyTally(), t); }
    const p = t.truePositives / Math.max(1, t.truePositives + t.falsePositives);
    process.stdout.write(`${name} P ${p.toFixed(2)} R ${(t.detected / Math.max(1, t.incidents)).toFixed(2)} (${t.detected}/${t.incidents} FP ${t.falsePositives})  `);
  }
  console.log(JSON.stringify(over));
}
