import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { createQueryModule } from '../../backend/src/query/module.js';
import type { QueryRequest } from '../../backend/src/query/schema.js';
import { DASHBOARDS, dashboardRequests } from './dashboards.js';
import { questions } from './questions.js';
import { openServiceContext } from './service-context.js';

/**
 * Every single question's and every whole dashboard panel's cold answer,
 * written to a file, so a change to the query path can be checked to answer
 * exactly as before on the same data set (`diff` the files of two builds).
 * run.ts checks the single questions against the raw rows within their
 * tolerance, but of a dashboard only that every panel answers; this is how
 * answers are compared bit for bit between builds.
 *
 *   node --import tsx bench/query/answers.ts --database bench_q_10m_x --out /tmp/answers-before.json
 *
 * --questions (run.ts's keys, comma-separated, or `all`): their cold answers too.
 *
 * Each panel is answered cold twice in a row, and the two must be equal: the second reads rows whose texts the first
 * scanned (sketch.ts keeps them, bench/README.md, issue 20, step 31), as every cold answer after a write does.
 */
const { values: flags } = parseArgs({ options: { database: { type: 'string' }, out: { type: 'string' }, questions: { type: 'string' } } });
if (!flags.database || !flags.out) throw new Error('usage: --database NAME --out FILE');
// The same organization and end as cold.ts.
const { context, org, end, close } = await openServiceContext(flags.database);
try {
  const { service } = await createQueryModule(context);
  const answers: Record<string, unknown> = {};
  const panels = [
    ...questions(end).map((question) => ({ name: `question ${question.key}`, body: question.body })),
    ...DASHBOARDS.flatMap((board) => dashboardRequests(board.file, end).map((panel) => ({ name: `${board.file}: ${panel.title}`, body: panel.body }))),
  ];
  const answer = async (body: QueryRequest, name: string) => {
    // Cold: a new cache version, as a write gives.
    await context.cacheVersions.bump(org);
    const { results } = await service.query(org, body);
    const frames: Record<string, unknown> = {};
    for (const [refId, result] of Object.entries(results)) {
      if (result.status !== 200) throw new Error(`${name} ${refId}: ${result.error}`);
      frames[refId] = JSON.parse(result.framesJson ?? JSON.stringify(result.frames));
    }
    return frames;
  };
  for (const panel of panels) {
    const first = await answer(panel.body, panel.name);
    const again = await answer(panel.body, panel.name);
    if (JSON.stringify(again) !== JSON.stringify(first)) throw new Error(`${panel.name}: answered differently the second time, cold both times`);
    answers[panel.name] = first;
  }
  fs.writeFileSync(flags.out, `${JSON.stringify(answers, null, 1)}\n`);
  console.log(`${Object.keys(answers).length} panels written to ${flags.out}`);
} finally {
  await close();
}
