import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export interface FakeResponse {
  status: number;
  body: unknown;
}

export interface FakeServer {
  url: string;
  /** Every request received, in order (for asserting paths, auth headers and bodies). */
  requests: FakeRequest[];
  close(): Promise<void>;
}

/** A local JSON HTTP server: the shared plumbing of the SaaS fakes. */
export async function startJsonServer(handle: (request: FakeRequest) => FakeResponse | Promise<FakeResponse>): Promise<FakeServer> {
  const requests: FakeRequest[] = [];
  const server = http.createServer((incoming, outgoing) => {
    let raw = '';
    incoming.on('data', (chunk) => (raw += chunk));
    incoming.on('end', async () => {
      const url = new URL(incoming.url!, 'http://fake.local');
      let body: unknown = raw;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        // Not JSON: keep the text (form posts, for instance).
      }
      const request: FakeRequest = { method: incoming.method!, path: url.pathname, query: url.searchParams, headers: incoming.headers, body };
      requests.push(request);
      const answer = await handle(request);
      outgoing.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8' });
      outgoing.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function bearerToken(request: FakeRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
}
