/**
 * Every parameter (`$n::type`, as buildSql, distinctDaysSql and the per-dimension statements write them all) read
 * through a one-row subquery, so PostgreSQL plans the statement without looking at the values: its custom plans,
 * which it otherwise makes on every execution, are then no cheaper than the generic plan, which it keeps after five
 * executions. The plan is the same (index scans of the primary keys, the values as runtime keys); planning a union of
 * 6-24 branches was most of PostgreSQL's time for these statements (1.7 ms of CPU for a ratio KPI's 24 branches, 0.5
 * ms with the generic plan; bench/README.md, issue 20, steps 11 and 15).
 */
export function valuesAtRunTime(text: string, offset = 0): string {
  if (offset !== 0) return rewrite(text, offset);
  // Statements repeat (their values are parameters): each text is rewritten once.
  let rewritten = rewritten0.get(text);
  if (rewritten === undefined) {
    if (rewritten0.size >= MAX_TEXTS) rewritten0.clear();
    rewritten0.set(text, (rewritten = rewrite(text, 0)));
  }
  return rewritten;
}

function rewrite(text: string, offset: number): string {
  return text.replace(/\$(\d+)::([a-z0-9_]+(?:\[\])?)/g, (_, n: string, type: string) => `(SELECT $${Number(n) + offset}::${type})::${type}`);
}

const rewritten0 = new Map<string, string>();
/** A process sees a few hundred statement texts; odd callers cannot grow this without bound. */
const MAX_TEXTS = 1_000;
