/**
 * Citus' rules for a schema distributed by `organization_id`, checked on the
 * real schema and on SQL parsed by PostgreSQL's own parser (libpg-query):
 *
 * - a distributed table's primary key and every unique constraint include the
 *   distribution column (Citus refuses the constraint otherwise);
 * - a statement on a distributed table filters it by `organization_id`
 *   (`=`, `IN`, `= ANY`), so Citus routes it to one shard group (a router
 *   query) instead of fanning it out to every node; an INSERT names the
 *   column, so the row's shard is known.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'libpg-query';
import type pg from 'pg';
import ts from 'typescript';

export const DISTRIBUTION_COLUMN = 'organization_id';

export interface TableShape {
  name: string;
  hasDistributionColumn: boolean;
  /** Primary key and unique constraints or indexes: name and columns. */
  uniques: Array<{ name: string; kind: 'primary key' | 'unique'; columns: string[] }>;
}

/** The tables of the public schema (partitions folded into their parent), with their unique keys. */
export async function readSchema(pool: pg.Pool): Promise<TableShape[]> {
  const { rows: tables } = await pool.query<{ name: string; has_org: boolean }>(
    `SELECT c.relname AS name,
            EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = $1 AND NOT a.attisdropped) AS has_org
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
     ORDER BY 1`,
    [DISTRIBUTION_COLUMN],
  );
  const { rows: uniques } = await pool.query<{ table: string; name: string; primary: boolean; columns: string[] }>(
    `SELECT t.relname AS table, i.relname AS name, x.indisprimary AS primary,
            array(SELECT a.attname::text FROM unnest(x.indkey) AS k(attnum) JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS columns
     FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = 'public' AND x.indisunique AND NOT t.relispartition`,
  );
  return tables.map((table) => ({
    name: table.name,
    hasDistributionColumn: table.has_org,
    uniques: uniques.filter((u) => u.table === table.name).map((u) => ({ name: u.name, kind: u.primary ? 'primary key' : 'unique', columns: u.columns })),
  }));
}

export interface ForeignKey {
  name: string;
  table: string;
  columns: string[];
  references: string;
  referencedColumns: string[];
}

export async function readForeignKeys(pool: pg.Pool): Promise<ForeignKey[]> {
  const { rows } = await pool.query<ForeignKey>(
    `SELECT c.conname AS name, t.relname AS table, r.relname AS references,
            array(SELECT a.attname::text FROM unnest(c.conkey) AS k(n) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS columns,
            array(SELECT a.attname::text FROM unnest(c.confkey) AS k(n) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS "referencedColumns"
     FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE c.contype = 'f' AND n.nspname = 'public' AND NOT t.relispartition`,
  );
  return rows;
}

/**
 * Citus allows a foreign key from a distributed table to a reference table,
 * and between distributed tables only on the distribution column (colocated
 * rows); a reference table may not point at a distributed one.
 */
export function foreignKeyProblem(key: ForeignKey, distributed: Set<string>): string | undefined {
  const from = distributed.has(key.table);
  const to = distributed.has(key.references);
  if (!from && to) return `${key.table} (reference) -> ${key.references} (distributed): ${key.name} cannot exist under Citus`;
  if (from && to && !(key.columns.includes(DISTRIBUTION_COLUMN) && key.referencedColumns.includes(DISTRIBUTION_COLUMN))) {
    return `${key.table} -> ${key.references}: ${key.name} (${key.columns.join(', ')}) lacks ${DISTRIBUTION_COLUMN}`;
  }
  return undefined;
}

/** Why a distributed table could not be distributed as it is, or nothing. */
export function constraintProblems(table: TableShape): string[] {
  return table.uniques
    .filter((unique) => !unique.columns.includes(DISTRIBUTION_COLUMN))
    .map((unique) => `${table.name}: ${unique.kind} ${unique.name} (${unique.columns.join(', ')}) lacks ${DISTRIBUTION_COLUMN}`);
}

type Node = Record<string, unknown>;

function* walk(node: unknown): Generator<[string, Node]> {
  if (Array.isArray(node)) {
    for (const item of node) yield* walk(item);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node as Node)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && /^[A-Z]/.test(key)) yield [key, value as Node];
    yield* walk(value);
  }
}

/** Tables named in a FROM list or join tree of this statement level (not inside its subqueries, which are checked on their own). */
function fromTables(items: unknown): string[] {
  const names: string[] = [];
  const visit = (item: unknown) => {
    if (!item || typeof item !== 'object') return;
    const node = item as Node;
    if (node.RangeVar) names.push(String((node.RangeVar as Node).relname));
    if (node.JoinExpr) {
      visit((node.JoinExpr as Node).larg);
      visit((node.JoinExpr as Node).rarg);
    }
  };
  for (const item of (items as unknown[] | undefined) ?? []) visit(item);
  return names;
}

const isDistributionColumn = (node: unknown): boolean => {
  const ref = (node as Node | undefined)?.ColumnRef as { fields?: Array<{ String?: { sval?: string } }> } | undefined;
  return ref?.fields?.at(-1)?.String?.sval === DISTRIBUTION_COLUMN;
};

/** Whether a condition (WHERE, join quals) pins organization_id by =, IN or = ANY somewhere in it. */
function filtersByDistributionColumn(condition: unknown): boolean {
  for (const [kind, node] of walk({ Root: condition })) {
    if (kind !== 'A_Expr') continue;
    const op = (node.name as Array<{ String?: { sval?: string } }> | undefined)?.[0]?.String?.sval;
    const exprKind = node.kind as string;
    if (op === '=' && ['AEXPR_OP', 'AEXPR_OP_ANY', 'AEXPR_IN'].includes(exprKind) && (isDistributionColumn(node.lexpr) || isDistributionColumn(node.rexpr))) return true;
  }
  return false;
}

function joinQuals(items: unknown): unknown[] {
  const quals: unknown[] = [];
  for (const [kind, node] of walk(items)) if (kind === 'JoinExpr' && node.quals) quals.push(node.quals);
  return quals;
}

/** What in one statement would not be a router query on a table of `distributed`. */
export async function statementProblems(sql: string, distributed: Set<string>): Promise<string[]> {
  const tree = await parse(sql);
  const problems: string[] = [];
  const scoped = (tables: string[], conditions: unknown[], what: string) => {
    const touched = tables.filter((table) => distributed.has(table));
    if (touched.length > 0 && !conditions.some(filtersByDistributionColumn)) problems.push(`${what} ${touched.join(', ')} without filtering by ${DISTRIBUTION_COLUMN}`);
  };
  for (const [kind, node] of walk(tree)) {
    if (kind === 'SelectStmt') scoped(fromTables(node.fromClause), [node.whereClause, ...joinQuals(node.fromClause)], 'reads');
    if (kind === 'UpdateStmt') scoped([String((node.relation as Node).relname), ...fromTables(node.fromClause)], [node.whereClause], 'updates');
    if (kind === 'DeleteStmt') scoped([String((node.relation as Node).relname), ...fromTables(node.usingClause)], [node.whereClause], 'deletes from');
    if (kind === 'InsertStmt') {
      const table = String((node.relation as Node).relname);
      const columns = ((node.cols as Array<{ ResTarget: { name: string } }> | undefined) ?? []).map((col) => col.ResTarget.name);
      if (distributed.has(table) && !columns.includes(DISTRIBUTION_COLUMN)) problems.push(`inserts into ${table} without naming ${DISTRIBUTION_COLUMN}`);
    }
  }
  return problems;
}

const SQL_START = /^\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b/i;

/**
 * Every complete SQL statement written as one string literal in the backend's
 * source. Templates with `${...}` holes are counted but left out: a hole may
 * be a whole WHERE clause, so only the statement as it runs tells (the
 * capture in the test).
 */
export async function sourceStatements(root: string): Promise<{ statements: Array<{ file: string; line: number; sql: string }>; templates: number }> {
  const statements: Array<{ file: string; line: number; sql: string }> = [];
  let skipped = 0;
  const files = fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts')).map((file) => path.join(root, file));
  for (const file of files) {
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const candidates: Array<{ node: ts.Node; text: string }> = [];
    const visit = (node: ts.Node) => {
      if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) candidates.push({ node, text: node.text });
      else if (ts.isTemplateExpression(node) && SQL_START.test(node.head.text)) skipped += 1;
      ts.forEachChild(node, visit);
    };
    visit(source);
    for (const { node, text } of candidates) {
      if (!SQL_START.test(text)) continue;
      try {
        await parse(text);
      } catch {
        continue; // prose that starts like SQL ("Select a metric ...")
      }
      statements.push({ file: path.relative(root, file), line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, sql: text });
    }
  }
  return { statements, templates: skipped };
}
