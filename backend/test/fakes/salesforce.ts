import { bearerToken, startJsonServer, type FakeRequest, type FakeResponse, type FakeServer } from './http.js';

/**
 * A local stand-in for the Salesforce REST API, speaking its documented wire
 * format (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/):
 * - GET /services/data/vXX.X/query?q=<SOQL>: { totalSize, done, records, nextRecordsUrl }
 *   with each record carrying `attributes: { type, url }`;
 * - GET /services/data/vXX.X/query/<locator>: the next batch;
 * - GET /services/data/vXX.X/limits;
 * - errors as [{ message, errorCode }] (INVALID_SESSION_ID with 401, MALFORMED_QUERY with 400).
 */
export interface SalesforceFakeOptions {
  apiVersion: string;
  token: string;
  /** Records a SOQL query returns; throw SalesforceQueryError for MALFORMED_QUERY. */
  answer(soql: string): Array<Record<string, unknown>>;
  batchSize?: number;
}

export class SalesforceQueryError extends Error {}

export async function startSalesforceFake(options: SalesforceFakeOptions): Promise<FakeServer> {
  const base = `/services/data/v${options.apiVersion}`;
  const batchSize = options.batchSize ?? 2;
  const cursors = new Map<string, Array<Record<string, unknown>>>();
  let cursorCounter = 0;

  const batch = (records: Array<Record<string, unknown>>, offset: number, cursor: string) => {
    const done = offset + batchSize >= records.length;
    return {
      totalSize: records.length,
      done,
      records: records.slice(offset, offset + batchSize).map((record, index) => ({
        attributes: { type: 'Opportunity', url: `${base}/sobjects/Opportunity/006${String(offset + index).padStart(15, '0')}` },
        ...record,
      })),
      ...(!done && { nextRecordsUrl: `${base}/query/${cursor}-${offset + batchSize}` }),
    };
  };

  return startJsonServer((request: FakeRequest): FakeResponse => {
    if (bearerToken(request) !== options.token) return { status: 401, body: [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }] };
    if (request.method === 'GET' && request.path === `${base}/query`) {
      const soql = request.query.get('q') ?? '';
      let records: Array<Record<string, unknown>>;
      try {
        records = options.answer(soql);
      } catch (error) {
        if (error instanceof SalesforceQueryError) return { status: 400, body: [{ message: error.message, errorCode: 'MALFORMED_QUERY' }] };
        throw error;
      }
      cursorCounter += 1;
      const cursor = `01gD0000002HU6K${cursorCounter}`;
      cursors.set(cursor, records);
      return { status: 200, body: batch(records, 0, cursor) };
    }
    const more = new RegExp(`^${base.replace('.', '\\.')}/query/(\\w+)-(\\d+)$`).exec(request.path);
    if (request.method === 'GET' && more) {
      const records = cursors.get(more[1]!);
      if (!records) return { status: 400, body: [{ message: 'invalid query locator', errorCode: 'INVALID_QUERY_LOCATOR' }] };
      return { status: 200, body: batch(records, Number(more[2]), more[1]!) };
    }
    if (request.method === 'GET' && request.path === `${base}/limits`) {
      return { status: 200, body: { DailyApiRequests: { Max: 15000, Remaining: 14990 } } };
    }
    return { status: 404, body: [{ message: 'The requested resource does not exist', errorCode: 'NOT_FOUND' }] };
  });
}
