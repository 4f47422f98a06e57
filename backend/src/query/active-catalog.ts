import type { Router } from 'express';
import { questionHash } from '../cache/query-cache.js';
import { loadCatalog, type Catalog } from '../catalog/load.js';
import type { Logger } from '../logger.js';
import type { SourceRegistry } from '../sources/registry.js';
import type { QueryService } from './service.js';

/** Everything built from one version of the catalog file. */
export interface CatalogGeneration {
  /** Hash of the catalog's content: part of every cache key, so no answer outlives a change. */
  version: string;
  catalog: Catalog;
  registry: SourceRegistry;
  service: QueryService;
  /** The query routes over this generation. */
  router: Router;
  loadedAt: Date;
}

export type BuildGeneration = (catalog: Catalog, version: string) => Promise<CatalogGeneration>;

export interface ReloadResult {
  changed: boolean;
  version: string;
  previousVersion: string;
  metrics: number;
  sources: number;
}

/** A generation in use: released when the request or job that took it ends. */
export interface Lease {
  generation: CatalogGeneration;
  release(): void;
}

export function catalogVersion(catalog: Catalog): string {
  return questionHash({ sources: catalog.sources, metrics: catalog.metrics }).slice(0, 12);
}

/**
 * The catalog in force, swappable at run time. A reload reads and validates
 * the whole file and builds the new sources before anything changes; only
 * then does it swap, atomically. Work that took a lease on the old generation
 * (a request in flight, an evaluation) finishes on it, and the old sources
 * close when the last lease is released. A file that does not validate
 * throws (a CatalogError with file, path and reason) and the old catalog
 * keeps serving.
 */
export class ActiveCatalog {
  private generation: CatalogGeneration;
  private readonly leases = new Map<CatalogGeneration, number>();
  private readonly retired = new Set<CatalogGeneration>();
  private readonly validators: Array<(catalog: Catalog) => void> = [];
  private readonly listeners: Array<(generation: CatalogGeneration) => void> = [];
  private reloading: Promise<ReloadResult> = Promise.resolve({ changed: false, version: '', previousVersion: '', metrics: 0, sources: 0 });

  private constructor(
    readonly file: string,
    private readonly build: BuildGeneration,
    private readonly logger: Logger,
    first: CatalogGeneration,
  ) {
    this.generation = first;
  }

  static async create(file: string, build: BuildGeneration, logger: Logger): Promise<ActiveCatalog> {
    const catalog = loadCatalog(file);
    return new ActiveCatalog(file, build, logger, await build(catalog, catalogVersion(catalog)));
  }

  get current(): CatalogGeneration {
    return this.generation;
  }

  /** Checks a capability's own parts of a catalog (e.g. anomaly rules); throws CatalogError to refuse it. */
  addValidator(validate: (catalog: Catalog) => void): void {
    this.validators.push(validate);
  }

  onSwap(listener: (generation: CatalogGeneration) => void): void {
    this.listeners.push(listener);
  }

  acquire(): Lease {
    const generation = this.generation;
    this.leases.set(generation, (this.leases.get(generation) ?? 0) + 1);
    let released = false;
    return {
      generation,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.leases.get(generation) ?? 1) - 1;
        if (left > 0) {
          this.leases.set(generation, left);
          return;
        }
        this.leases.delete(generation);
        if (this.retired.has(generation)) void this.closeGeneration(generation);
      },
    };
  }

  /** Reloads are serialized: two at once would build the same sources twice. */
  reload(): Promise<ReloadResult> {
    const next = this.reloading.catch(() => undefined).then(() => this.reloadNow());
    this.reloading = next;
    return next;
  }

  private async reloadNow(): Promise<ReloadResult> {
    const catalog = loadCatalog(this.file);
    for (const validate of this.validators) validate(catalog);
    const version = catalogVersion(catalog);
    const previous = this.generation;
    const summary = { version, previousVersion: previous.version, metrics: catalog.metrics.length, sources: catalog.sources.length };
    if (version === previous.version) return { changed: false, ...summary };
    const next = await this.build(catalog, version);
    this.generation = next;
    for (const listener of this.listeners) listener(next);
    this.retire(previous);
    this.logger.info({ version, previousVersion: previous.version, file: this.file }, 'catalog reloaded');
    return { changed: true, ...summary };
  }

  private retire(generation: CatalogGeneration): void {
    if (this.leases.has(generation)) this.retired.add(generation);
    else void this.closeGeneration(generation);
  }

  private async closeGeneration(generation: CatalogGeneration): Promise<void> {
    this.retired.delete(generation);
    await generation.registry.close().catch((error: unknown) => this.logger.warn({ err: error }, 'closing the sources of a replaced catalog failed'));
  }

  /** Shutdown: the current sources and any still draining. */
  async close(): Promise<void> {
    await Promise.all([this.generation, ...this.retired].map((generation) => generation.registry.close()));
  }
}
