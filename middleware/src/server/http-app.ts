// The HTTP surface: health, readiness, Prometheus metrics, the AC webhook receiver, the admin API and the status
// page. Errors never leak stack traces to clients; bodies are size-limited; the admin token is compared in
// constant time.
import express, { type Request, type Response, type NextFunction } from 'express';
import type { Logger } from 'pino';
import type { Store } from '../store';
import type { Metrics } from '../observability/metrics';
import type { AcReachability } from './ac-readiness';
import { webhookRoutes } from './webhook-routes';
import { adminRoutes, type AdminDeps } from './admin-routes';
import { statusPageRoutes } from './status-page/status-page-routes';

export interface Readiness {
  database: boolean;
  stream: boolean | 'standby';
  leader: boolean;
  ac: AcReachability;
  /** Why opt-outs are waiting (a vendor's circuit is open, an opt-out is old); empty when all is well. */
  degraded: string[];
  /** The leader's stream while it is not connected: what it is doing, when it tries again, what failed last. */
  streamDetail?: { status: string; nextAttemptAt: string | null; lastError: string | null };
}

export interface HttpAppDeps extends Omit<AdminDeps, 'acUsage'> {
  store: Store;
  metrics: Metrics;
  logger: Logger;
  webhookSecret: string;
  onWebhookAccepted: () => void;
  ready: () => Promise<Readiness>;
  /** False when the webhook receiver has its own listener (WEBHOOK_HTTP_PORT): this one then does not serve it. */
  serveWebhook?: boolean;
}

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
      // Only what stops this instance from keeping work durably makes it unready: its database, or the stream it
      // leads. A vendor outage makes it degraded, not unready: its opt-outs wait safely in the queue, and taking it
      // out of a load balancer would lose the webhooks AC sends meanwhile (AC never retries a delivery).
      const ok = r.database && r.stream !== false;
      const degraded = r.ac === 'unreachable' ? ['ActiveCampaign is unreachable', ...r.degraded] : r.degraded;
      res.status(ok ? 200 : 503).json({ ok, status: !ok ? 'unready' : degraded.length > 0 ? 'degraded' : 'ready', ...r, degraded });
    } catch {
      res.status(503).json({ ok: false, database: false });
    }
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  if (deps.serveWebhook !== false) app.use(webhookRoutes(webhookDeps(deps)));
  app.use('/admin', adminRoutes({ ...deps, acUsage: deps.metrics.acUsage }));
  app.use('/status', statusPageRoutes());

  finishApp(app, deps.logger);
  return app;
}

export type WebhookAppDeps = Pick<HttpAppDeps, 'store' | 'metrics' | 'logger' | 'webhookSecret' | 'onWebhookAccepted'>;

const webhookDeps = (deps: WebhookAppDeps) => ({ store: deps.store, secret: deps.webhookSecret, logger: deps.logger, metrics: deps.metrics, onAccepted: deps.onWebhookAccepted });

/**
 * The public face (WEBHOOK_HTTP_PORT): the AC webhook receiver and nothing else, so that the one listener exposed to
 * the internet carries no admin API, metrics or status page. Every other path is a bare 404.
 */
export function createWebhookApp(deps: WebhookAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(webhookRoutes(webhookDeps(deps)));
  finishApp(app, deps.logger);
  return app;
}

function finishApp(app: express.Express, logger: Logger): void {
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  // Express error handler: log with context, answer without internals.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number' && error.status >= 400 && error.status < 600 ? error.status : 500;
    if (status >= 500) logger.error({ err: error instanceof Error ? error.message : String(error), method: req.method, path: loggablePath(req.path) }, 'request failed');
    if (res.headersSent) return;
    res.status(status).json({ error: status === 413 ? 'body too large' : status < 500 ? 'bad request' : 'internal error' });
  });
}

/** The webhook URL carries the webhook secret: it never reaches a log line. */
export function loggablePath(path: string): string {
  return path.replace(/^\/webhooks\/activecampaign\/.*/, '/webhooks/activecampaign/[secret]');
}
