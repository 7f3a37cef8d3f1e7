// The HTTP surface: health, readiness, Prometheus metrics, the AC webhook receiver and the admin API. Errors never
// leak stack traces to clients; bodies are size-limited; the admin token is compared in constant time.
import express, { type Request, type Response, type NextFunction } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Store } from '../store';
import type { Metrics } from '../observability/metrics';
import { webhookRoutes, secretsEqual } from './webhook-routes';

export interface HttpAppDeps {
  store: Store;
  metrics: Metrics;
  logger: Logger;
  adminToken: string;
  webhookSecret: string;
  onWebhookAccepted: () => void;
  status: () => Promise<unknown>;
  ready: () => Promise<{ database: boolean; stream: boolean | 'standby'; leader: boolean }>;
  resyncEmail: (email: string) => Promise<void>;
  reconcile: (reason: string) => Promise<number>;
  retryDeadLetter: (id: string) => Promise<boolean>;
}

const emailParam = z.email();

export function createHttpApp(deps: HttpAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      const r = await deps.ready();
      const ok = r.database && r.stream !== false;
      res.status(ok ? 200 : 503).json({ ok, ...r });
    } catch {
      res.status(503).json({ ok: false, database: false });
    }
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.use(webhookRoutes({ store: deps.store, secret: deps.webhookSecret, logger: deps.logger, metrics: deps.metrics, onAccepted: deps.onWebhookAccepted }));

  const admin = express.Router();
  admin.use(express.json({ limit: '16kb' }));
  admin.use((req, res, next) => {
    const header = req.get('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!secretsEqual(token, deps.adminToken)) {
      res.status(401).json({ error: 'unauthorized' });
      return;
    }
    next();
  });
  admin.get('/status', async (_req, res) => {
    res.json(await deps.status());
  });
  admin.get('/history/:email', async (req, res) => {
    const email = emailParam.safeParse(req.params.email);
    if (!email.success) {
      res.status(400).json({ error: 'not an email address' });
      return;
    }
    res.json({ email: email.data.toLowerCase(), entries: await deps.store.audit.historyForEmail(email.data) });
  });
  admin.post('/resync', async (req, res) => {
    const body = z.object({ email: z.email() }).safeParse(req.body);
    if (!body.success) {
      res.status(400).json({ error: z.prettifyError(body.error) });
      return;
    }
    await deps.resyncEmail(body.data.email);
    res.status(202).json({ queued: true });
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
    deps.reconcile('requested through the admin API').catch((err: unknown) => deps.logger.error({ err: String(err) }, 'reconcile failed'));
  });
  admin.get('/quarantine', async (_req, res) => {
    res.json({ items: await deps.store.quarantine.list(100) });
  });
  app.use('/admin', admin);

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  // Express error handler: log with context, answer without internals.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number' ? error.status : 500;
    if (status >= 500) deps.logger.error({ err: error instanceof Error ? error.message : String(error), path: req.path.replace(/\/webhooks\/activecampaign\/.*/, '/webhooks/activecampaign/[secret]') }, 'request failed');
    res.status(status).json({ error: status === 413 ? 'body too large' : status < 500 ? 'bad request' : 'internal error' });
  });
  return app;
}
