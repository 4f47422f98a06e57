import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { build } from 'esbuild';
import { chromium, type BrowserContext } from 'playwright-core';

const PLUGIN_DIR = path.resolve(import.meta.dirname, '../../../plugin');
/** @grafana/ui loads its icons from Grafana's public folder; the package ships them. */
const ICONS_DIR = path.resolve(PLUGIN_DIR, '../node_modules/@grafana/ui/dist/public/img/icons');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** What the harness page sent to Grafana's /api/ds/query: one entry per query run. */
export interface SentQuery {
  queries: Array<Record<string, unknown>>;
  status: number;
}

export interface EditorHarness {
  url: string;
  sent: SentQuery[];
  /** Emits 'answered' each time the backend has answered a sent query. */
  events: EventEmitter;
  browser: BrowserContext;
  stop(): Promise<void>;
}

/**
 * Bundles plugin/src/test/browser/harness.tsx with esbuild (independent of the
 * plugin's own webpack build) into a temporary folder.
 */
async function buildHarness(outdir: string): Promise<void> {
  await build({
    entryPoints: [path.join(PLUGIN_DIR, 'src/test/browser/harness.tsx')],
    outfile: path.join(outdir, 'harness.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    jsx: 'automatic',
    minify: false,
    sourcemap: false,
    logLevel: 'error',
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
    loader: { '.svg': 'text', '.woff': 'empty', '.woff2': 'empty', '.ttf': 'empty', '.png': 'empty', '.css': 'empty' },
  });
  const bootData = { assets: { dark: '', light: '' }, settings: {}, user: {}, navTree: [] };
  await fs.writeFile(
    path.join(outdir, 'index.html'),
    `<!doctype html><html><head><meta charset="utf-8"><title>Metrics Hub editors</title>
<script>window.grafanaBootData = ${JSON.stringify(bootData)};</script></head>
<body class="theme-dark"><div id="root"></div><script src="/harness.js"></script></body></html>`,
  );
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

/**
 * Plays Grafana's server for the page: serves the harness, forwards
 * /api/datasources/uid/<uid>/resources/<name> to the backend's /api/v1/<name>
 * and /api/ds/query to POST /api/v1/query, as the Go component does, with the API key.
 */
function startGrafanaStandIn(dir: string, backendUrl: string, apiKey: string, sent: SentQuery[], events: EventEmitter): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://harness');
      if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/harness.js')) {
        const file = url.pathname === '/' ? 'index.html' : 'harness.js';
        res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'text/html' });
        res.end(await fs.readFile(path.join(dir, file)));
        return;
      }
      const icon = /^\/public\/build\/img\/icons\/(\w+)\/([\w-]+\.svg)$/.exec(url.pathname);
      if (req.method === 'GET' && icon) {
        res.writeHead(200, { 'content-type': 'image/svg+xml' });
        res.end(await fs.readFile(path.join(ICONS_DIR, icon[1]!, icon[2]!)));
        return;
      }
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      const resource = /^\/api\/datasources\/uid\/[^/]+\/resources\/(\w+)$/.exec(url.pathname);
      let target: string;
      let forwardBody = body;
      let record: SentQuery | undefined;
      if (resource) {
        target = `/api/v1/${resource[1]}${url.search}`;
      } else if (url.pathname === '/api/ds/query' && body) {
        const request = JSON.parse(body) as { from: string; to: string; queries: Array<Record<string, unknown>> };
        const queries = request.queries.map(({ datasource: _ds, datasourceId: _id, intervalMs: _i, maxDataPoints: _m, ...query }) => query);
        record = { queries, status: 0 };
        sent.push(record);
        target = '/api/v1/query';
        forwardBody = JSON.stringify({ from: request.from, to: request.to, intervalMs: 3_600_000, maxDataPoints: 500, queries });
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `no route ${req.method} ${url.pathname}` }));
        return;
      }
      const answer = await fetch(`${backendUrl}${target}`, {
        method: req.method,
        headers: { authorization: `Bearer ${apiKey}`, ...(forwardBody && { 'content-type': 'application/json' }) },
        body: forwardBody,
      });
      const text = await answer.text();
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(text);
      if (record) {
        record.status = answer.status;
        events.emit('answered');
      }
    } catch (error) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: String(error) }));
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Builds the harness, serves it next to the backend, and starts headless Chromium with a fresh profile. */
export async function startEditorHarness(backendUrl: string, apiKey: string): Promise<EditorHarness> {
  await fs.access(CHROMIUM).catch(() => {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (Debian: apt-get install -y chromium) or set CHROMIUM_PATH`);
  });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-editor-harness-'));
  await buildHarness(dir);
  const sent: SentQuery[] = [];
  const events = new EventEmitter();
  const server = await startGrafanaStandIn(dir, backendUrl, apiKey, sent, events);
  const { port } = server.address() as { port: number };
  const profile = path.join(dir, 'profile');
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  return {
    url: `http://127.0.0.1:${port}/`,
    sent,
    events,
    browser,
    stop: async () => {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
