// The ActiveCampaign webhook receiver. AC signs nothing, so the URL carries a secret; AC never retries, so a
// delivery is stored durably before the 200 answer, and a duplicate delivery is recognised and harmless.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Store } from '../store';
import { webhookPayloadSchema, relevantWebhookTypes, storableDelivery } from '../activecampaign/webhook-payload';
import type { Metrics } from '../observability/metrics';

export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function webhookRoutes(deps: { store: Store; secret: string; logger: Logger; metrics: Metrics; onAccepted: () => void }): Router {
  const router = express.Router();
  // The secret is checked before the body is read: on the public face, a caller without it costs us no parsing
  // and no memory, whatever it sends.
  const requireSecret = (req: Request, res: Response, next: NextFunction) => {
    if (!secretsEqual(String(req.params.secret ?? ''), deps.secret)) {
      // The unread body is not drained: the connection is closed after the answer.
      res.set('connection', 'close').status(401).json({ error: 'unauthorized' });
      return;
    }
    next();
  };
  const form = express.urlencoded({ extended: true, limit: '64kb', parameterLimit: 500 });
  // Any other content type is read as text under the same limit, so that what was sent is kept as evidence.
  const isForm = (type: string | undefined) => /^\s*application\/x-www-form-urlencoded\s*(;|$)/i.test(type ?? '');
  const other = express.text({ type: (req) => !isForm(req.headers['content-type']), limit: '64kb' });
  router.post('/webhooks/activecampaign/:secret', requireSecret, form, other, async (req, res, next) => {
    try {
      if (!isForm(req.get('content-type'))) {
        // AC posts forms only: anything else is not a delivery we can read. Kept with its type (not an empty
        // "undefined" row), answered 415 so a misconfigured sender sees why.
        const type = req.get('content-type') ?? 'none';
        const reason = `unsupported content type ${JSON.stringify(type.slice(0, 100))}: ActiveCampaign posts application/x-www-form-urlencoded`;
        await deps.store.quarantine.put('webhook', reason, typeof req.body === 'string' ? req.body : '');
        deps.metrics.quarantined.inc({ source: 'webhook' });
        res.status(415).json({ error: 'unsupported content type', reason });
        return;
      }
      const parsed = webhookPayloadSchema.safeParse(req.body);
      if (!parsed.success) {
        const reason = z.prettifyError(parsed.error);
        await deps.store.quarantine.put('webhook', reason, req.body);
        deps.metrics.quarantined.inc({ source: 'webhook' });
        res.status(400).json({ error: 'malformed webhook', reason });
        return;
      }
      const payload = storableDelivery(parsed.data) as typeof parsed.data;
      if (!(relevantWebhookTypes as readonly string[]).includes(payload.type)) {
        res.status(200).json({ accepted: false, ignored: payload.type });
        return;
      }
      // The same change delivered twice has the same fields: the hash makes the second delivery a no-op.
      const dedupeKey = createHash('sha256').update(JSON.stringify(payload)).digest('hex');
      const fresh = await deps.store.webhookInbox.accept(dedupeKey, payload);
      res.status(200).json({ accepted: true, duplicate: !fresh });
      if (fresh) deps.onAccepted();
    } catch (error) {
      next(error);
    }
  });
  return router;
}

