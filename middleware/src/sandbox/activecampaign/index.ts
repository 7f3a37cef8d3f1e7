// ActiveCampaign API v3 emulator: a real HTTP server that follows AC's documents and documented payloads
// (fixtures/activecampaign/*), never the middleware's convenience; it imports nothing from the product.
//
// Choices where AC is silent (each also in the report and the comments where it applies):
// - rate limit: a SLIDING one-second window of `rateLimitPerSecond` (5) for the whole account, all tokens;
//   AC documents "5 requests per second per account" and no window type (see account-rate-limiter.ts);
// - listChangeBumpsUdate (default true): AC does not document whether a list-status change bumps contact.udate;
//   the default lets AC's own "changes since" recipe work, turn it off to prove the poller doesn't rely on it;
// - the 403 for a missing/wrong Api-Token uses the error-list shape of the spec's own 403 examples.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { AccountClock } from './account-clock';
import { SlidingWindowLimiter, type RateDecision } from './account-rate-limiter';
import { AccountState, type ListStatus } from './account-state';
import type { ApiContext } from './api-context';
import { BulkImporter } from './bulk-import';
import { contactsApi } from './contacts-api';
import { FaultInjector, type FaultSpec } from './fault-injector';
import { listsAndTagsApi } from './lists-and-tags-api';
import { type ContactView, PersonActions, type PersonSource } from './person-actions';
import { Representations } from './resource-representations';
import { sandboxControlRoutes } from './sandbox-control-routes';
import { WebhookDispatcher, type WebhookDelivery, type WebhookDispatch } from './webhook-dispatcher';
import { webhooksApi } from './webhooks-api';
import { activeCampaignIndexPage } from './index-page';

export type { ContactView, PersonSource } from './person-actions';
export type { FaultSpec } from './fault-injector';
export type { WebhookDelivery } from './webhook-dispatcher';
export type { ListStatus } from './account-state';

export interface ActiveCampaignEmulatorOptions {
  /** the account's API key; any other or a missing Api-Token header gets 403 (default "sandbox-ac-api-token") */
  apiToken?: string;
  /** more keys of the same account: they share its one rate-limit budget */
  extraApiTokens?: string[];
  /** account-wide requests per window (default 5, AC's documented limit) */
  rateLimitPerSecond?: number;
  /** window length in ms (default 1000); shorten for fast tests */
  rateLimitWindowMs?: number;
  /** status answered over the limit: 429 (documented) or 503 (older field reports) */
  rateLimitStatus?: 429 | 503;
  /** how long a bulk import batch takes before it completes (default 2000 ms) */
  importProcessingMs?: number;
  /** how long /import/info answers `status: false` right after the POST, as AC's docs warn (default 300 ms) */
  importStatusUnsetMs?: number;
  /** bulk-import limits: multi-contact (100) and single-contact (20) imports per window (60 000 ms) */
  importMultiPerWindow?: number;
  importSinglePerWindow?: number;
  importRateWindowMs?: number;
  /** the account's UTC offset carried by cdate/udate (default "-05:00", as in AC's examples) */
  utcOffset?: string;
  /** clock for data timestamps (cdate, udate, sdate...); rate limits and delays use real time */
  now?: () => Date;
  /** whether a list-status change bumps contact.udate (undocumented by AC; default true) */
  listChangeBumpsUdate?: boolean;
  /** webhook receiver timeout (default 10 000 ms); AC never retries */
  webhookTimeoutMs?: number;
  host?: string;
  /** 0 (default) picks a free port */
  port?: number;
}

export interface RequestLogEntry {
  /** wall-clock time the request arrived */
  at: string;
  method: string;
  /** path without query, e.g. /api/3/contacts */
  path: string;
  /** path with query */
  url: string;
  /** 0 when it was never answered (hang fault, client gave up) */
  status: number;
  durationMs: number;
  rateLimited: boolean;
  faulted: boolean;
}

export interface ActiveCampaignEmulator {
  /** http://127.0.0.1:<port>; the API base is url + '/api/3' */
  url: string;
  apiUrl: string;
  apiToken: string;
  close(): Promise<void>;
  createList(name: string): { id: string; name: string };
  createContact(
    email: string,
    options?: { firstName?: string; lastName?: string; lists?: Record<string, ListStatus> },
  ): ContactView;
  subscribe(email: string, listId: string, options?: { source?: PersonSource }): ContactView;
  unsubscribe(email: string, listId: string | 'all', options?: { source?: PersonSource; reason?: string }): ContactView;
  hardBounce(email: string, options?: { code?: string; description?: string }): ContactView;
  softBounce(email: string, options?: { code?: string; description?: string }): ContactView;
  updateEmail(oldEmail: string, newEmail: string, options?: { source?: PersonSource }): ContactView;
  contactByEmail(email: string): ContactView | undefined;
  setFault(fault: FaultSpec): void;
  clearFaults(): void;
  configure(change: { rateLimitPerSecond?: number; rateLimitWindowMs?: number; listChangeBumpsUdate?: boolean; webhookDropShare?: number; webhookReorderWindowMs?: number }): void;
  /** completes every queued bulk import now */
  flushImports(): void;
  /** resolves once every queued webhook delivery has been attempted */
  webhooksIdle(): Promise<void>;
  readonly requestLog: RequestLogEntry[];
  readonly webhookDeliveries: WebhookDelivery[];
  /** Every change queued for webhooks, with how many of its deliveries were lost (decided when queued). */
  readonly webhookDispatches: WebhookDispatch[];
}

/** AC's answer to a token it does not accept (403, "could not be authenticated", in its errors shape). */
const INVALID_TOKEN_BODY = { errors: [{ status: 403, title: 'Forbidden', detail: 'Invalid or missing API token' }] };

function tokenMatches(given: string | undefined, accepted: string[]): boolean {
  if (given === undefined) return false;
  const g = Buffer.from(given);
  return accepted.some((token) => {
    const t = Buffer.from(token);
    return t.length === g.length && timingSafeEqual(t, g);
  });
}

export async function startActiveCampaignEmulator(
  options: ActiveCampaignEmulatorOptions = {},
): Promise<ActiveCampaignEmulator> {
  const apiToken = options.apiToken ?? 'sandbox-ac-api-token';
  const tokens = [apiToken, ...(options.extraApiTokens ?? [])];
  const clock = new AccountClock(options.utcOffset ?? '-05:00', options.now ?? (() => new Date()));
  let baseUrl = '';
  const state: AccountState = new AccountState({
    clock,
    listChangeBumpsUdate: options.listChangeBumpsUdate ?? true,
    // Changes only happen after start-up, when `webhooks` exists.
    onChange: (event) => webhooks.dispatch(event),
  });
  const webhooks = new WebhookDispatcher(state, clock, options.webhookTimeoutMs ?? 10_000);
  const importer = new BulkImporter(state, {
    processingMs: options.importProcessingMs ?? 2000,
    statusUnsetMs: options.importStatusUnsetMs ?? 300,
    multiPerWindow: options.importMultiPerWindow ?? 100,
    singlePerWindow: options.importSinglePerWindow ?? 20,
    windowMs: options.importRateWindowMs ?? 60_000,
  });
  const limiter = new SlidingWindowLimiter(options.rateLimitPerSecond ?? 5, options.rateLimitWindowMs ?? 1000);
  const rateLimitStatus = options.rateLimitStatus ?? 429;
  const faults = new FaultInjector();
  const person = new PersonActions(state);
  const requestLog: RequestLogEntry[] = [];
  const repr = new Representations(() => `${baseUrl}/api/3`, clock, state);
  const ctx: ApiContext = { state, clock, repr, webhooks, importer };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const api = express.Router();
  api.use((req: Request, res: Response, next: NextFunction) => {
    const started = Date.now();
    const entry: RequestLogEntry = {
      at: new Date(started).toISOString(),
      method: req.method,
      path: `/api/3${req.path}`,
      url: req.originalUrl,
      status: 0,
      durationMs: 0,
      rateLimited: false,
      faulted: false,
    };
    requestLog.push(entry);
    res.locals.logEntry = entry;
    const finish = () => {
      entry.status = res.headersSent ? res.statusCode : 0;
      entry.durationMs = Date.now() - started;
    };
    res.on('finish', finish);
    res.on('close', finish);
    next();
  });
  api.use((req: Request, res: Response, next: NextFunction) => {
    const action = faults.take(req.method, req.path);
    const entry = res.locals.logEntry as RequestLogEntry;
    if (action.kind === 'hang') {
      entry.faulted = true;
      return; // never answers: the client's timeout is what is under test
    }
    const act = () => {
      if (action.kind === 'status') {
        entry.faulted = true;
        if (action.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(action.retryAfterSeconds));
        res.status(action.status).json({ message: http.STATUS_CODES[action.status] ?? 'Error' });
      } else if (action.kind === 'invalid-token') {
        entry.faulted = true;
        res.status(403).json(INVALID_TOKEN_BODY);
      } else if (action.kind === 'garbage') {
        entry.faulted = true;
        res.status(200).type('application/json').send(action.body);
      } else next();
    };
    const latency = action.latencyMs;
    if (latency > 0) {
      // AC counts a request against the account's limit when it arrives; the injected latency is its time to answer.
      // Counting after the delay would let a stall of this process bunch requests that arrived well spaced.
      if (action.kind === 'none' && tokenMatches(req.get('Api-Token'), tokens)) res.locals.rateDecision = limiter.take();
      setTimeout(act, latency);
    } else act();
  });
  api.use((req: Request, res: Response, next: NextFunction) => {
    if (!tokenMatches(req.get('Api-Token'), tokens)) {
      res.status(403).json(INVALID_TOKEN_BODY);
      return;
    }
    const decision = (res.locals.rateDecision as RateDecision | undefined) ?? limiter.take();
    res.setHeader('RateLimit-Limit', String(limiter.limit));
    res.setHeader('RateLimit-Remaining', String(decision.remaining));
    if (!decision.allowed) {
      (res.locals.logEntry as RequestLogEntry).rateLimited = true;
      res.setHeader('Retry-After', String(decision.retryAfterSeconds));
      // The 429 body is undocumented (research §1); a short message like AC's other errors.
      res.status(rateLimitStatus).json({ message: 'Too Many Requests' });
      return;
    }
    next();
  });
  api.use(express.json({ limit: '1mb' }));
  api.use(contactsApi(ctx));
  api.use(listsAndTagsApi(ctx));
  api.use(webhooksApi(ctx));
  api.use((req: Request, res: Response) => {
    res.status(404).json({ message: `No route for ${req.method} /api/3${req.path}` });
  });
  api.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    // Malformed JSON: AC's documented 400 answers carry an empty object.
    const status =
      typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number'
        ? error.status
        : 500;
    res.status(status >= 400 && status < 500 ? 400 : 500).json({});
  });

  // The control routes are only reached once the server listens, when `emulator` is defined.
  app.use(
    '/__sandbox',
    express.json(),
    sandboxControlRoutes(() => emulator),
  );
  app.use('/api/3', api);
  app.get('/', (_req, res) => void res.type('html').send(activeCampaignIndexPage(baseUrl)));

  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  baseUrl = `http://${host}:${address.port}`;

  const emulator: ActiveCampaignEmulator = {
    url: baseUrl,
    apiUrl: `${baseUrl}/api/3`,
    apiToken,
    async close() {
      importer.close();
      await webhooks.idle();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    createList: (name) => person.createList(name),
    createContact: (email, opts) => person.createContact(email, opts),
    subscribe: (email, listId, opts) => person.subscribe(email, listId, opts),
    unsubscribe: (email, listId, opts) => person.unsubscribe(email, listId, opts),
    hardBounce: (email, opts) => person.hardBounce(email, opts),
    softBounce: (email, opts) => person.softBounce(email, opts),
    updateEmail: (oldEmail, newEmail, opts) => person.updateEmail(oldEmail, newEmail, opts),
    contactByEmail: (email) => person.contactByEmail(email),
    setFault: (fault) => faults.add(fault),
    clearFaults: () => faults.clear(),
    configure(change) {
      if (change.rateLimitPerSecond !== undefined) limiter.limit = change.rateLimitPerSecond;
      if (change.rateLimitWindowMs !== undefined) limiter.windowMs = change.rateLimitWindowMs;
      if (change.listChangeBumpsUdate !== undefined) state.listChangeBumpsUdate = change.listChangeBumpsUdate;
      if (change.webhookDropShare !== undefined) webhooks.dropShare = change.webhookDropShare;
      if (change.webhookReorderWindowMs !== undefined) webhooks.reorderWindowMs = change.webhookReorderWindowMs;
    },
    flushImports: () => importer.flush(),
    webhooksIdle: () => webhooks.idle(),
    requestLog,
    webhookDeliveries: webhooks.deliveries,
    webhookDispatches: webhooks.dispatches,
  };
  return emulator;
}
