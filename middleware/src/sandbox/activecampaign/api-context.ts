// What every /api/3 route module needs, plus the small HTTP helpers they share.
import type { Request, Response } from 'express';
import type { AccountClock } from './account-clock';
import type { AccountState } from './account-state';
import type { BulkImporter } from './bulk-import';
import type { JsonObject, Representations } from './resource-representations';
import type { WebhookDispatcher } from './webhook-dispatcher';

export interface ApiContext {
  state: AccountState;
  clock: AccountClock;
  repr: Representations;
  webhooks: WebhookDispatcher;
  importer: BulkImporter;
}

/** Documented default 20 and maximum 100 (reference/pagination.md); a larger limit is served as 100. */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export function queryOf(req: Request): URLSearchParams {
  // Read the raw query string: AC's keys are literal brackets (filters[updated_after], orders[id]) and
  // express's parser setting must not change their meaning.
  const index = req.originalUrl.indexOf('?');
  return new URLSearchParams(index >= 0 ? req.originalUrl.slice(index + 1) : '');
}

export function pageOf(query: URLSearchParams): { limit: number; offset: number } {
  const rawLimit = Number.parseInt(query.get('limit') ?? '', 10);
  const rawOffset = Number.parseInt(query.get('offset') ?? '', 10);
  const limit = Number.isFinite(rawLimit) && rawLimit > 0 ? Math.min(rawLimit, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
  const offset = Number.isFinite(rawOffset) && rawOffset > 0 ? rawOffset : 0;
  return { limit, offset };
}

export function send(res: Response, status: number, body: JsonObject): void {
  res.status(status).json(body);
}

/** 404 shape of single-resource reads: {"message":"No Result found for Subscriber with id 1"} */
export function notFound(res: Response, resource: string, id: string): void {
  send(res, 404, { message: `No Result found for ${resource} with id ${id}` });
}

/** JSON:API-style error list used by AC's 404/422 answers on contactTags and contacts. */
export function errors(res: Response, status: number, entries: JsonObject[]): void {
  send(res, status, { errors: entries });
}

export function idParam(req: Request): string {
  const value = req.params.id;
  return typeof value === 'string' ? value : '';
}

/** AC sends IDs as strings but accepts numbers in requests ({"list": 2, "contact": 1, "status": 1}). */
export function idString(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) return value.trim();
  return undefined;
}
