import { bearerToken, startJsonServer, type FakeRequest, type FakeResponse, type FakeServer } from './http.js';

/**
 * A local stand-in for the BigQuery REST API v2, speaking its documented wire
 * format (https://cloud.google.com/bigquery/docs/reference/rest):
 * - POST /bigquery/v2/projects/{projectId}/queries (jobs.query): QueryRequest
 *   in, QueryResponse out (schema, rows as { f: [{ v }] }, jobReference,
 *   pageToken, jobComplete);
 * - GET /bigquery/v2/projects/{projectId}/queries/{jobId} (jobs.getQueryResults)
 *   for the following pages and for jobs not complete on the first answer;
 * - GET /bigquery/v2/projects/{projectId}/datasets (datasets.list);
 * - errors as { error: { code, message, status, errors: [{ reason }] } }.
 * Every call needs `Authorization: Bearer <token>`.
 */
export interface BigqueryField {
  name: string;
  type: 'STRING' | 'INTEGER' | 'INT64' | 'FLOAT' | 'FLOAT64' | 'TIMESTAMP' | 'DATE';
}

export interface BigqueryTable {
  fields: BigqueryField[];
  /** Cell values as JS values; TIMESTAMP cells are epoch ms, DATE cells 'YYYY-MM-DD'. */
  rows: unknown[][];
}

export interface BigqueryFakeOptions {
  projectId: string;
  token: string;
  /** Answers a query (text, named parameters and the request's default dataset as sent); throw BigqueryQueryError for a 400. */
  answer(query: string, parameters: Record<string, string>, request: { defaultDataset?: { projectId: string; datasetId: string } }): BigqueryTable;
  pageSize?: number;
  /** The first jobs.query answer says jobComplete: false, so the client polls getQueryResults. */
  slowJobs?: boolean;
}

export class BigqueryQueryError extends Error {}

interface Job {
  table: BigqueryTable;
  useInt64Timestamp: boolean;
}

function encodeCell(value: unknown, field: BigqueryField, useInt64Timestamp: boolean): string | null {
  if (value === null || value === undefined) return null;
  if (field.type === 'TIMESTAMP') {
    const ms = value as number;
    // formatOptions.useInt64Timestamp: microseconds as an int64 string; otherwise float seconds.
    return useInt64Timestamp ? String(BigInt(ms) * 1000n) : String(ms / 1000);
  }
  return String(value);
}

function googleError(code: number, status: string, reason: string, message: string): FakeResponse {
  return { status: code, body: { error: { code, message, status, errors: [{ reason, message, domain: 'global' }] } } };
}

export async function startBigqueryFake(options: BigqueryFakeOptions): Promise<FakeServer> {
  const jobs = new Map<string, Job>();
  const pageSize = options.pageSize ?? 2;
  let jobCounter = 0;

  const page = (jobId: string, job: Job, offset: number, kind: string) => {
    const rows = job.table.rows.slice(offset, offset + pageSize).map((row) => ({
      f: row.map((cell, index) => ({ v: encodeCell(cell, job.table.fields[index]!, job.useInt64Timestamp) })),
    }));
    const next = offset + pageSize < job.table.rows.length ? String(offset + pageSize) : undefined;
    return {
      kind,
      schema: { fields: job.table.fields.map((field) => ({ ...field, mode: 'NULLABLE' })) },
      jobReference: { projectId: options.projectId, jobId, location: 'EU' },
      totalRows: String(job.table.rows.length),
      rows,
      ...(next && { pageToken: next }),
      jobComplete: true,
      cacheHit: false,
    };
  };

  return startJsonServer((request: FakeRequest): FakeResponse => {
    if (bearerToken(request) !== options.token) return googleError(401, 'UNAUTHENTICATED', 'authError', 'Request had invalid authentication credentials.');
    const base = `/bigquery/v2/projects/${options.projectId}`;
    if (request.method === 'POST' && request.path === `${base}/queries`) {
      const body = request.body as {
        query: string;
        useLegacySql?: boolean;
        parameterMode?: string;
        queryParameters?: Array<{ name: string; parameterValue: { value: string } }>;
        formatOptions?: { useInt64Timestamp?: boolean };
        defaultDataset?: { projectId: string; datasetId: string };
      };
      if (body.useLegacySql !== false) return googleError(400, 'INVALID_ARGUMENT', 'invalidQuery', 'this fake only runs Standard SQL');
      const parameters = Object.fromEntries((body.queryParameters ?? []).map((parameter) => [parameter.name, parameter.parameterValue.value]));
      let table: BigqueryTable;
      try {
        table = options.answer(body.query, parameters, { ...(body.defaultDataset && { defaultDataset: body.defaultDataset }) });
      } catch (error) {
        if (error instanceof BigqueryQueryError) return googleError(400, 'INVALID_ARGUMENT', 'invalidQuery', error.message);
        throw error;
      }
      jobCounter += 1;
      const jobId = `job_fake_${jobCounter}`;
      const job = { table, useInt64Timestamp: body.formatOptions?.useInt64Timestamp === true };
      jobs.set(jobId, job);
      if (options.slowJobs) {
        return { status: 200, body: { kind: 'bigquery#queryResponse', jobReference: { projectId: options.projectId, jobId, location: 'EU' }, jobComplete: false } };
      }
      return { status: 200, body: page(jobId, job, 0, 'bigquery#queryResponse') };
    }
    const results = new RegExp(`^${base}/queries/([\\w-]+)$`).exec(request.path);
    if (request.method === 'GET' && results) {
      const job = jobs.get(results[1]!);
      if (!job) return googleError(404, 'NOT_FOUND', 'notFound', `Not found: Job ${options.projectId}:${results[1]}`);
      // getQueryResults answers with the client's own formatOptions.
      job.useInt64Timestamp = request.query.get('formatOptions.useInt64Timestamp') === 'true' || job.useInt64Timestamp;
      return { status: 200, body: page(results[1]!, job, Number(request.query.get('pageToken') ?? '0'), 'bigquery#getQueryResultsResponse') };
    }
    if (request.method === 'GET' && request.path === `${base}/datasets`) {
      return {
        status: 200,
        body: { kind: 'bigquery#datasetList', datasets: [{ kind: 'bigquery#dataset', id: `${options.projectId}:analytics_123`, datasetReference: { projectId: options.projectId, datasetId: 'analytics_123' }, location: 'EU' }] },
      };
    }
    return googleError(404, 'NOT_FOUND', 'notFound', `no route ${request.method} ${request.path}`);
  });
}
