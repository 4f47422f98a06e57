import { Router } from 'express';
import { z } from 'zod';
import { insertKey, listApiKeys, revokeApiKey, setApiKeyScope } from '../auth/keys.js';
import { principalOf } from '../auth/middleware.js';
import { SCOPES } from '../auth/scopes.js';
import { CatalogError } from '../catalog/load.js';
import type { AppContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import type { QueryModule } from '../query/module.js';
import { firstIssue } from '../query/schema.js';
import { audit, type Actor } from './audit.js';
import type { ReloadResult } from '../query/active-catalog.js';

const scopeSchema = z.enum(SCOPES, { message: `must be one of ${SCOPES.join(', ')}` });
const createKeySchema = z.object({ scope: scopeSchema, name: z.string().trim().min(1).max(200).default('default') }).strict();
const updateKeySchema = z.object({ scope: scopeSchema }).strict();

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    const { field, message } = firstIssue(parsed.error);
    throw new HttpError(400, message, field || undefined);
  }
  return parsed.data;
}

export type ReloadCatalog = (actor: Actor) => Promise<ReloadResult>;

/**
 * GET /sources (read), POST /sources/:id/cache/clear, POST /admin/catalog/reload
 * and /keys (admin): what an operator needs without a shell on the server.
 * Scopes are enforced before these run (auth/scopes.ts).
 */
export function adminRouter(context: AppContext, query: QueryModule, reloadCatalog: ReloadCatalog): Router {
  const router = Router();

  router.get('/sources', async (req, res) => {
    const { organizationId } = principalOf(req);
    const { version, loadedAt, registry } = query.active.current;
    const sources = await Promise.all(
      registry.activity().map(async (source) => ({
        ...source,
        newestCachedAnswerAgeSeconds: await query.cache.newestAnswerAgeSeconds(organizationId, source.id),
      })),
    );
    res.json({ catalog: { file: query.active.file, version, loadedAt: loadedAt.toISOString() }, sources });
  });

  router.post('/sources/:id/cache/clear', async (req, res) => {
    const principal = principalOf(req);
    const sourceId = req.params.id!;
    if (!query.active.current.registry.has(sourceId)) {
      throw new HttpError(404, `source '${sourceId}' is not in the catalog; GET /api/v1/sources lists the sources`, 'id');
    }
    try {
      await query.cache.clear(principal.organizationId, sourceId);
    } catch (error) {
      throw new HttpError(503, `the cache could not be cleared (${error instanceof Error ? error.message : String(error)}); retry when Redis is reachable`, undefined, { 'Retry-After': '5' });
    }
    audit(context.logger, principal, 'source.cache.clear', { source: sourceId });
    res.json({ source: sourceId, cleared: true });
  });

  router.post('/admin/catalog/reload', async (req, res) => {
    try {
      res.json(await reloadCatalog(principalOf(req)));
    } catch (error) {
      if (!(error instanceof CatalogError)) throw error;
      res.status(422).json({
        error: `the catalog was not reloaded, the one in force keeps serving: ${error.message}`,
        file: error.file,
        problems: error.problems,
      });
    }
  });

  router.get('/keys', async (req, res) => {
    res.json({ keys: await listApiKeys(context.pool, principalOf(req).organizationId) });
  });

  router.post('/keys', async (req, res) => {
    const principal = principalOf(req);
    const body = parse(createKeySchema, req.body);
    const created = await insertKey(context.pool, principal.organizationId, body.name, body.scope);
    audit(context.logger, principal, 'key.create', { targetKeyId: created.id, prefix: created.prefix, scope: created.scope });
    res.status(201).json(created);
  });

  router.patch('/keys/:id', async (req, res) => {
    const principal = principalOf(req);
    const body = parse(updateKeySchema, req.body);
    const [updated] = await setApiKeyScope(context.pool, req.params.id!, body.scope, principal.organizationId);
    if (!updated) throw new HttpError(404, `no active key '${req.params.id}' in this organization; GET /api/v1/keys lists them`, 'id');
    audit(context.logger, principal, 'key.scope', { targetKeyId: updated.id, prefix: updated.prefix, scope: updated.scope });
    res.json(updated);
  });

  router.delete('/keys/:id', async (req, res) => {
    const principal = principalOf(req);
    const revoked = await revokeApiKey(context.pool, req.params.id!, principal.organizationId);
    if (revoked === 0) throw new HttpError(404, `no active key '${req.params.id}' in this organization; GET /api/v1/keys lists them`, 'id');
    audit(context.logger, principal, 'key.revoke', { targetKeyId: req.params.id });
    res.json({ revoked });
  });

  return router;
}
