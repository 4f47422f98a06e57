import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { SourceQuery } from '../types.js';
import { buildSql, packsTotals, Params, type EventsMetricQuery, type Measure, type Row } from './events.js';
import { valuesAtRunTime } from './run-time-values.js';

export { valuesAtRunTime };

/**
 * Totals questions of one request (the same `SourceQuery.batch` token) asked
 * in the same turn of the event loop, answered by one SQL statement: a panel
 * asks several small questions at once (a KPI its period and the one before,
 * a ratio its numerator and denominator, a panel of three metrics each of its
 * own), and each statement costs a round trip, a socket write and
 * PostgreSQL's per-statement work, more than reading its few rows
 * (bench/README.md, "Step 11: whole dashboards, cold"). Questions of
 * different requests are never batched: each request's statements still run
 * in parallel on their own connections.
 *
 * Only questions that read the totals tables (no group-by, no `where`, no
 * filters) are batched: their statements share one shape, `(b, <measure
 * columns>)`, so they stack as `UNION ALL` branches tagged with the
 * question's index. Each question then gets exactly the rows, in the order,
 * that its own statement returns (PostgreSQL runs the branches one after
 * another), so its answer is the same.
 */

/** Every measure's output columns after `b`, as the totals statement of buildSql selects them. */
const MEASURE_COLUMNS: Record<Measure, Array<keyof Row>> = {
  // Packed: one row per statement, no `b` (buildSql, PACKED_TOTALS).
  count: ['pv'],
  sum: ['pv'],
  avg: ['v', 's'],
  min: ['mn'],
  max: ['mx'],
  sketch: ['sketch', 'minus'],
  distinct: ['sp', 'dn'],
};

/** The union's possible columns after `q` and `b`, in order, with the type a missing one is NULL as. */
const UNION_COLUMNS: Array<[keyof Row, string]> = [
  ['pv', 'text'],
  ['c', 'float8'],
  ['v', 'float8'],
  ['s', 'float8'],
  ['mn', 'float8'],
  ['mx', 'float8'],
  ['sketch', 'text'],
  ['minus', 'text'],
  ['sp', 'text'],
  ['dn', 'text'],
];

/** Most questions one statement answers: a longer union plans no faster per branch, and a failure would reach more answers. */
export const MAX_BATCH = 24;

export interface BatchMember {
  query: SourceQuery;
  metricQuery: EventsMetricQuery;
  measure: Measure;
}

/** Whether a question reads the totals tables (buildSql's `totals`): nothing names a dimension. */
export function isTotalsQuestion(query: SourceQuery, metricQuery: EventsMetricQuery): boolean {
  return query.groupBy.length === 0 && query.filters.length === 0 && Object.keys(metricQuery.where ?? {}).length === 0 && metricQuery.measure !== 'level';
}

/** Whether two members' statements bind the same values (node-pg sends a Date as its instant, an array element-wise). */
function sameValues(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index += 1) {
    const [x, y] = [a[index], b[index]];
    if (x === y) continue;
    if (x instanceof Date && y instanceof Date ? x.getTime() === y.getTime() : Array.isArray(x) && Array.isArray(y) && sameValues(x, y)) continue;
    return false;
  }
  return true;
}

/**
 * One statement for the members' totals statements: `q` is the branch a row belongs to, the union's other columns
 * NULL. Named like the totals statements, and its members put in the order of their own statements (statementId), so
 * requests that ask alike (every KPI its two periods, whatever the metric) share one statement: each pooled
 * connection parses each shape once and, after five executions, plans it generically (valuesAtRunTime).
 *
 * Members whose statements are the same text with the same values (a panel's p50, p95 and p99 of one metric read
 * the same sketches) share one branch: `places[i]` is member i's branch, and both get its rows.
 */
export function batchSql(members: readonly BatchMember[]): { text: string; values: unknown[]; name: string; places: number[]; measures: Measure[] } {
  if (members.length === 1) return aloneSql(members[0]!);
  const own = members.map(({ query, metricQuery, measure }) => {
    const params = new Params();
    const text = buildSql(query, metricQuery, measure, params).text;
    return { text, values: params.values, measure, key: statementId(measure, text) };
  });
  const order = own.map((_, index) => index).sort((a, b) => own[a]!.key - own[b]!.key || a - b);
  // One branch per distinct statement; equal ones are adjacent in `order`, but their values need not be.
  const branches: Array<(typeof own)[number]> = [];
  const places: number[] = [];
  for (const index of order) {
    const mine = own[index]!;
    let place = branches.length - 1;
    while (place >= 0 && branches[place]!.key === mine.key && !sameValues(branches[place]!.values, mine.values)) place -= 1;
    if (place < 0 || branches[place]!.key !== mine.key) {
      place = branches.length;
      branches.push(mine);
    }
    places[index] = place;
  }
  // The branches' statements (their values are parameters) fix the batch's text: rewritten and hashed once per shape.
  const shape = branches.map((one) => one.key).join(',');
  let statement = shapes.get(shape);
  if (!statement) {
    // Only the columns some member has: a column of NULLs still costs Node a field per row (1,430 rows for a band).
    const used = UNION_COLUMNS.filter(([column]) => branches.some((one) => MEASURE_COLUMNS[one.measure].includes(column)));
    let offset = 0;
    const selects = branches.map(({ measure, text, values }, place) => {
      const mine = new Set(MEASURE_COLUMNS[measure]);
      const columns = used.map(([column, type]) => (mine.has(column) ? column : `NULL::${type} AS ${column}`));
      const branch = `SELECT ${place} AS q, ${packsTotals(measure) ? 'NULL::float8 AS b' : 'b'}, ${columns.join(', ')} FROM (${valuesAtRunTime(text, offset)}) m${place}`;
      offset += values.length;
      return branch;
    });
    // A statement alone needs no tag: its own text, its values at run time.
    const text = branches.length === 1 ? valuesAtRunTime(branches[0]!.text) : selects.join(' UNION ALL ');
    statement = { text, name: `events_batch_${createHash('sha1').update(text).digest('hex').slice(0, 16)}` };
    if (shapes.size >= MAX_SHAPES) forgetShapes();
    shapes.set(shape, statement);
  }
  return { ...statement, values: branches.flatMap((one) => one.values), places, measures: branches.map((one) => one.measure) };
}

/** Batch statements by their branches' statement ids; a process sees a few dozen (MAX_SHAPES bounds odd callers). */
const shapes = new Map<string, { text: string; name: string }>();
const MAX_SHAPES = 1_000;

/**
 * A member's statement (its measure and text) as a number, the same for the same statement in this process: branches
 * sort and shapes are keyed by these instead of by texts of a kilobyte each, which a Bot performance load compared,
 * joined and hashed for every batch (buildSql hands back the same text instance for most totals questions, so the
 * lookup hashes nothing; bench/README.md, issue 20, step 17).
 */
function statementId(measure: Measure, text: string): number {
  let byMeasure = statementIds.get(text);
  if (byMeasure === undefined) {
    // Shapes name ids: both are forgotten together.
    if (statementIds.size >= MAX_SHAPES) forgetShapes();
    statementIds.set(text, (byMeasure = new Map()));
  }
  let id = byMeasure.get(measure);
  if (id === undefined) byMeasure.set(measure, (id = nextStatementId++));
  return id;
}

const statementIds = new Map<string, Map<Measure, number>>();
let nextStatementId = 0;

function forgetShapes(): void {
  shapes.clear();
  statementIds.clear();
}

/**
 * A question alone (a cold single answer, most panels' one question): the statement batchSql writes for one branch,
 * its own text with its values at run time, found by that text alone. No key, sort or shape is built for it: a cold
 * 30-day p95 spent 0.1 ms of Node per answer on its statement's strings (bench/README.md, issue 20, step 17).
 */
function aloneSql({ query, metricQuery, measure }: BatchMember): ReturnType<typeof batchSql> {
  const params = new Params();
  const { text } = buildSql(query, metricQuery, measure, params);
  let statement = alone.get(text);
  if (!statement) {
    const runTime = valuesAtRunTime(text);
    statement = { text: runTime, name: `events_batch_${createHash('sha1').update(runTime).digest('hex').slice(0, 16)}` };
    if (alone.size >= MAX_SHAPES) alone.clear();
    alone.set(text, statement);
  }
  return { text: statement.text, name: statement.name, values: params.values, places: [0], measures: [measure] };
}

/** aloneSql's statements by their member's own text. */
const alone = new Map<string, { text: string; name: string }>();

/**
 * The union's rows split by branch (`measures`: each branch's measure), each row with only the columns its own
 * statement has (and `q`, which nothing reads); rows are copied only when the union has columns their branch does not.
 */
export function splitRows(rows: ReadonlyArray<Row & { q?: number }>, measures: readonly Measure[]): Row[][] {
  if (measures.length === 1) return [rows as Row[]];
  const out = measures.map((): Row[] => []);
  const columns = measures.map((measure) => MEASURE_COLUMNS[measure]);
  const widths = new Set(columns.map((own) => own.join()));
  if (widths.size === 1) {
    for (const row of rows) out[row.q!]!.push(row);
    return out;
  }
  for (const row of rows) {
    const own: Row = { b: row.b };
    for (const column of columns[row.q!]!) (own as unknown as Record<string, unknown>)[column] = row[column];
    out[row.q!]!.push(own);
  }
  return out;
}

/**
 * A request's batch token (SourceQuery.batch). `questions`: how many totals questions its answers ask at once, when the
 * query service can tell (a lone series, table or KPI): the statement is sent when the last of them is in, not a turn of
 * the event loop later (bench/README.md, issue 20, step 24). Fewer would send the rest in a statement of their own,
 * more would wait for the turn as without it: either way each question gets its own rows.
 */
export interface BatchToken {
  questions?: number;
}

interface Pending extends BatchMember {
  signal: AbortSignal;
  resolve: (rows: Row[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Collects the totals questions of one turn of the event loop per request
 * token and read target, and reads their rows in one statement each
 * `MAX_BATCH` (a question alone too: its statement is then planned once per
 * connection, valuesAtRunTime). The statement is cancelled only when every
 * question waiting on it has given up.
 */
export class TotalsBatcher {
  private pending = new Map<object, Map<string, Pending[]>>();
  private scheduled = false;

  constructor(
    /** Runs `work` on a pooled client of the read target for `readAfter` (primary or replica). */
    private readonly withClient: <T>(readAfter: SourceQuery['readAfter'], work: (client: pg.PoolClient, cancel: () => void) => Promise<T>) => Promise<T>,
  ) {}

  /** The rows of a question that carries a batch token. */
  rows(member: BatchMember, signal: AbortSignal): Promise<Row[]> {
    return new Promise<Row[]>((resolve, reject) => {
      const key = member.query.readAfter === undefined ? '' : String(member.query.readAfter);
      let request = this.pending.get(member.query.batch!);
      if (!request) this.pending.set(member.query.batch!, (request = new Map()));
      let list = request.get(key);
      if (!list) request.set(key, (list = []));
      list.push({ ...member, signal, resolve, reject });
      if (list.length === (member.query.batch as BatchToken).questions && request.size === 1) {
        // Every question the request asks at once is in: its statement goes now (the turn's flush finds it gone).
        this.pending.delete(member.query.batch!);
        void this.read(list);
        return;
      }
      if (!this.scheduled) {
        this.scheduled = true;
        // After the turn's microtasks: every question a request's answers start together is in.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const groups = this.pending;
    this.pending = new Map();
    this.scheduled = false;
    for (const request of groups.values()) {
      for (const list of request.values()) {
        for (let start = 0; start < list.length; start += MAX_BATCH) void this.read(list.slice(start, start + MAX_BATCH));
      }
    }
  }

  private async read(members: Pending[]): Promise<void> {
    try {
      const answers = await this.withClient(members[0]!.query.readAfter, async (client, cancel) => {
        let waiting = members.length;
        const giveUp = () => {
          waiting -= 1;
          if (waiting === 0) cancel();
        };
        for (const member of members) {
          if (member.signal.aborted) giveUp();
          else member.signal.addEventListener('abort', giveUp, { once: true });
        }
        try {
          const { places, measures, ...statement } = batchSql(members);
          const { rows } = await client.query<Row & { q?: number }>(statement);
          // Each member gets its branch's rows; members sharing a branch, each their own array (rows are only read).
          const byPlace = splitRows(rows, measures);
          const taken = new Set<number>();
          return places.map((place) => {
            const mine = byPlace[place]!;
            if (taken.has(place)) return mine.slice();
            taken.add(place);
            return mine;
          });
        } finally {
          for (const member of members) member.signal.removeEventListener('abort', giveUp);
        }
      });
      members.forEach((member, index) => member.resolve(answers[index]!));
    } catch (error) {
      for (const member of members) member.reject(error);
    }
  }
}
