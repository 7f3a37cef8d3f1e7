// The admin API behind a bearer token: status, one email's history, resync an email or a record, dead letters,
// reconcile, quarantine, and the series the status page draws. The token is checked before any body is parsed, so
// an unauthenticated client cannot make the server read a body at all.
import express, { type Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Store } from '../store';
import type { AuditDirection } from '../store/audit-log';
import type { AcUsage } from '../observability/ac-usage';
import { secretsEqual } from './webhook-routes';
import { optOutsPerHour } from './status-series';
import { backfillRoutes } from './backfill-routes';
import { SalesforceApiError, redactSalesforceMessage, salesforceFailureClass } from '../salesforce/salesforce-errors';
import { reconcileRoutes } from './reconcile-routes';
import type { FullReconciler } from '../reconcile/full-reconciler';

export interface AdminDeps {
  store: Store;
  logger: Logger;
  adminToken: string;
  acUsage: Pick<AcUsage, 'series'>;
  /** The account's budget, drawn as the ceiling on the AC usage chart. */
  acRateLimitPerSecond: number;
  now?: () => Date;
  status: () => Promise<unknown>;
  resyncEmail: (email: string) => Promise<unknown>;
  /** Reads the record and queues it; false when Salesforce has no such Contact or Lead. */
  resyncRecord: (recordId: string) => Promise<boolean>;
  reconcile: (reason: string) => Promise<number>;
  retryDeadLetter: (id: string) => Promise<boolean>;
  /** The full reconciliation (POST/GET /admin/reconcile/full); absent: not offered. */
  fullReconciler?: () => FullReconciler | null;
  /** Wakes the workers after a backfill batch was queued. */
  onBackfillQueued?: (direction: 'sf-to-ac' | 'ac-to-sf') => void;
  /** The AC account's lists (id and name), so that the status page shows names where the audit log has ids. */
  listNames?: () => Promise<{ id: string; name: string }[]>;
}

/** List names change rarely: one AC read (a page per 100 lists) per five minutes at most, from the status page. */
const LIST_NAMES_TTL_MS = 5 * 60_000;
const LIST_NAMES_RETRY_MS = 10_000;

const emailParam = z.email();
/** Salesforce ids: 15 characters, or 18 with the case-safe suffix. */
const recordIdSchema = z.string().regex(/^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/, 'a Salesforce record id has 15 or 18 letters and digits');
const changesQuery = z.object({
  direction: z.enum(['sf_to_ac', 'ac_to_sf', 'internal']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
const hoursQuery = z.object({ hours: z.coerce.number().int().min(1).max(24 * 14).default(24) });
const minutesQuery = z.object({ minutes: z.coerce.number().int().min(1).max(24 * 60).default(60) });

export function adminRoutes(deps: AdminDeps): Router {
  const now = deps.now ?? (() => new Date());
  const admin = express.Router();
  admin.use((req, res, next) => {
    const header = req.get('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!secretsEqual(token, deps.adminToken)) {
      res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'unauthorized' });
      return;
    }
    next();
  });
  // Backfill batches (up to 1,000 emails) are larger than the other admin bodies: mounted before the 16 kB parser.
  admin.use(backfillRoutes({ store: deps.store, clock: now, onQueued: deps.onBackfillQueued }));
  if (deps.fullReconciler !== undefined) admin.use(reconcileRoutes({ reconciler: deps.fullReconciler, logger: deps.logger }));
  admin.use(express.json({ limit: '16kb' }));
  // Admin answers carry emails: never cached by a browser or a proxy.
  admin.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  admin.get('/status', async (_req, res) => {
    res.json(await deps.status());
  });
  let listNames: { at: number; names: Record<string, string> } | null = null;
  admin.get('/lists', async (req, res) => {
    if (deps.listNames === undefined) {
      res.json({ lists: {} });
      return;
    }
    // A list created since the last read is asked for by id: read again, though not more than every 10 s.
    const missing = typeof req.query.missing === 'string' && /^\d+$/.test(req.query.missing) && listNames !== null && !(req.query.missing in listNames.names);
    const age = listNames === null ? Infinity : now().getTime() - listNames.at;
    if (age > LIST_NAMES_TTL_MS || (missing && age > LIST_NAMES_RETRY_MS)) {
      try {
        const lists = await deps.listNames();
        listNames = { at: now().getTime(), names: Object.fromEntries(lists.map((l) => [l.id, l.name])) };
      } catch (error) {
        // Names are a nicety: the page shows ids meanwhile, and AC is asked again after the same wait.
        deps.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'list names for the status page could not be read from ActiveCampaign');
        listNames = { at: now().getTime(), names: listNames?.names ?? {} };
      }
    }
    res.json({ lists: listNames?.names ?? {} });
  });
  admin.get('/history/:email', async (req, res) => {
    const email = emailParam.safeParse(req.params.email);
    if (!email.success) {
      res.status(400).json({ error: 'not an email address' });
      return;
    }
    res.json({ email: email.data.toLowerCase(), entries: await deps.store.audit.historyForEmail(email.data) });
  });
  admin.get('/changes', async (req, res) => {
    const query = changesQuery.safeParse(req.query);
    if (!query.success) {
      res.status(400).json({ error: z.prettifyError(query.error) });
      return;
    }
    const direction: AuditDirection | undefined = query.data.direction;
    res.json({ entries: await deps.store.audit.latest(query.data.limit, direction) });
  });
  admin.post('/resync', async (req, res) => {
    const body = z.object({ email: z.email() }).safeParse(req.body);
    if (!body.success) {
      res.status(400).json({ error: z.prettifyError(body.error) });
      return;
    }
    let outcome: unknown;
    try {
      outcome = await deps.resyncEmail(body.data.email);
    } catch (error) {
      if (!answerSalesforceFailure(res, error, [body.data.email])) throw error;
      return;
    }
    res.status(202).json({ queued: true, ...(typeof outcome === 'object' && outcome !== null ? outcome : {}) });
  });
  admin.post('/resync-record', async (req, res) => {
    const body = z.object({ recordId: recordIdSchema }).safeParse(req.body);
    if (!body.success) {
      res.status(400).json({ error: z.prettifyError(body.error) });
      return;
    }
    let found: boolean;
    try {
      found = await deps.resyncRecord(body.data.recordId);
    } catch (error) {
      if (!answerSalesforceFailure(res, error, [])) throw error;
      return;
    }
    res.status(found ? 202 : 404).json(found ? { queued: true } : { queued: false, error: 'no Contact or Lead with this id' });
  });
  admin.get('/dead-letters', async (_req, res) => {
    res.json({ deadLetters: await deps.store.jobs.listDeadLetters() });
  });
  admin.post('/dead-letters/:id/retry', async (req, res) => {
    const id = z.string().regex(/^\d+$/).safeParse(req.params.id);
    if (!id.success) {
      res.status(400).json({ error: 'dead letter ids are numbers' });
      return;
    }
    const retried = await deps.retryDeadLetter(id.data);
    res.status(retried ? 202 : 404).json({ retried });
  });
  admin.post('/reconcile', async (_req, res) => {
    res.status(202).json({ started: true });
    deps.reconcile('requested through the admin API').catch((err: unknown) => deps.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'reconcile failed'));
  });
  admin.get('/quarantine', async (_req, res) => {
    res.json({ items: await deps.store.quarantine.list(100) });
  });
  admin.get('/series/opt-outs', async (req, res) => {
    const query = hoursQuery.safeParse(req.query);
    if (!query.success) {
      res.status(400).json({ error: z.prettifyError(query.error) });
      return;
    }
    res.json({ hours: await optOutsPerHour(deps.store.db, now(), query.data.hours) });
  });
  admin.get('/series/ac-usage', (req, res) => {
    const query = minutesQuery.safeParse(req.query);
    if (!query.success) {
      res.status(400).json({ error: z.prettifyError(query.error) });
      return;
    }
    res.json({ limitPerMinute: deps.acRateLimitPerSecond * 60, minutes: deps.acUsage.series(query.data.minutes) });
  });
  return admin;
}

/**
 * A resync reads Salesforce before it queues anything: when Salesforce refuses or does not answer (its daily API
 * limit, an outage, a refused session), the admin is told which and when to try again, not "internal error".
 * False when the error is not Salesforce's.
 */
function answerSalesforceFailure(res: express.Response, error: unknown, personal: string[]): boolean {
  const failureClass = salesforceFailureClass(error);
  if (failureClass === undefined) return false;
  // A query's error message may quote the query, and so the email asked for.
  const detail = redactSalesforceMessage(error instanceof Error ? error.message : String(error), 300, personal);
  const limit = error instanceof SalesforceApiError && error.errorCode === 'REQUEST_LIMIT_EXCEEDED';
  if (failureClass === 'permanent') {
    res.status(502).json({ queued: false, error: `Salesforce refused the read: ${detail}` });
    return true;
  }
  // The daily allocation is a rolling 24 hours: room comes back as old calls age out, not in seconds.
  res.status(503).set('Retry-After', limit ? '300' : '30').json({ queued: false, error: `Salesforce could not be read (${failureClass}): ${detail}; nothing was queued, try again later` });
  return true;
}
