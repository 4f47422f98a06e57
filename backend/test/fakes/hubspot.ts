import { bearerToken, startJsonServer, type FakeRequest, type FakeResponse, type FakeServer } from './http.js';

/**
 * A local stand-in for the HubSpot CRM v3 API, speaking its documented wire
 * format (https://developers.hubspot.com/docs/api/crm/search):
 * - POST /crm/v3/objects/{objectType}/search with { filterGroups, properties,
 *   sorts, limit, after }: { total, results: [{ id, properties, createdAt,
 *   updatedAt, archived }], paging: { next: { after } } }, filters evaluated
 *   here (datetime values compared as epoch milliseconds);
 * - GET /crm/v3/objects/{objectType}?limit=N (basic list);
 * - errors as { status: 'error', message, correlationId, category }.
 */
export interface HubspotFakeOptions {
  token: string;
  /** Records per object type; property values are strings, as HubSpot returns them. */
  objects: Record<string, Array<Record<string, string | null>>>;
}

interface SearchFilter {
  propertyName: string;
  operator: string;
  value?: string;
  values?: string[];
}

const DATE_LIKE = /^\d{4}-\d{2}-\d{2}/;

function comparable(raw: string): number | string {
  if (DATE_LIKE.test(raw)) return Date.parse(raw);
  const number = Number(raw);
  return Number.isFinite(number) ? number : raw;
}

function matches(properties: Record<string, string | null>, filter: SearchFilter): boolean {
  const actual = properties[filter.propertyName];
  if (filter.operator === 'HAS_PROPERTY') return actual !== null && actual !== undefined;
  if (filter.operator === 'NOT_HAS_PROPERTY') return actual === null || actual === undefined;
  if (actual === null || actual === undefined) return false;
  const left = comparable(actual);
  const right = comparable(filter.value ?? '');
  switch (filter.operator) {
    case 'EQ':
      return left === right;
    case 'NEQ':
      return left !== right;
    case 'LT':
      return left < right;
    case 'LTE':
      return left <= right;
    case 'GT':
      return left > right;
    case 'GTE':
      return left >= right;
    case 'IN':
      return (filter.values ?? []).includes(actual);
    case 'NOT_IN':
      return !(filter.values ?? []).includes(actual);
    default:
      throw new Error(`unsupported operator ${filter.operator}`);
  }
}

function error(status: number, category: string, message: string): FakeResponse {
  return { status, body: { status: 'error', message, correlationId: '7a6b1ec3-0000-4000-8000-000000000000', category } };
}

export async function startHubspotFake(options: HubspotFakeOptions): Promise<FakeServer> {
  return startJsonServer((request: FakeRequest): FakeResponse => {
    if (bearerToken(request) !== options.token) {
      return error(401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found.');
    }
    const search = /^\/crm\/v3\/objects\/(\w+)\/search$/.exec(request.path);
    if (request.method === 'POST' && search) {
      const records = options.objects[search[1]!];
      if (!records) return error(400, 'VALIDATION_ERROR', `Unable to infer object type from: ${search[1]}`);
      const body = request.body as { filterGroups?: Array<{ filters: SearchFilter[] }>; properties?: string[]; limit?: number; after?: string; sorts?: string[] };
      if ((body.limit ?? 10) > 200) return error(400, 'VALIDATION_ERROR', 'limit must be at most 200');
      const groups = body.filterGroups ?? [];
      const hits = records
        .map((properties, index) => ({ id: String(1000 + index), properties }))
        .filter((record) => groups.length === 0 || groups.some((group) => group.filters.every((filter) => matches(record.properties, filter))));
      const offset = Number(body.after ?? '0');
      const limit = body.limit ?? 10;
      const page = hits.slice(offset, offset + limit);
      const wanted = body.properties ?? [];
      return {
        status: 200,
        body: {
          total: hits.length,
          results: page.map((record) => ({
            id: record.id,
            properties: Object.fromEntries(['hs_object_id', ...wanted].map((name) => [name, name === 'hs_object_id' ? record.id : (record.properties[name] ?? null)])),
            createdAt: '2026-01-01T00:00:00.000Z',
            updatedAt: '2026-01-02T00:00:00.000Z',
            archived: false,
          })),
          ...(offset + limit < hits.length && { paging: { next: { after: String(offset + limit), link: `?after=${offset + limit}` } } }),
        },
      };
    }
    const list = /^\/crm\/v3\/objects\/(\w+)$/.exec(request.path);
    if (request.method === 'GET' && list) {
      const limit = Number(request.query.get('limit') ?? '10');
      const records = options.objects[list[1]!] ?? [];
      return {
        status: 200,
        body: { results: records.slice(0, limit).map((properties, index) => ({ id: String(1000 + index), properties, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-02T00:00:00.000Z', archived: false })) },
      };
    }
    return error(404, 'OBJECT_NOT_FOUND', `no route ${request.method} ${request.path}`);
  });
}
