// /__sandbox/*: the control surface over HTTP (JSON bodies), so that separate processes (demo, chaos test) can
// act as the person and inject faults. Not under /api/3: not authenticated, not rate-limited, not logged.
import { Router, type Response } from 'express';
import { z } from 'zod';
import type { ActiveCampaignEmulator } from './index';
import { faultSpecSchema } from './fault-injector';
import { personSourceSchema, UnknownContactError } from './person-actions';

const listStatus = z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]);
const schemas = {
  list: z.object({ name: z.string().min(1) }),
  contact: z.object({
    email: z.string().min(3),
    firstName: z.string().optional(),
    lastName: z.string().optional(),
    lists: z.record(z.string(), listStatus).optional(),
  }),
  subscribe: z.object({ email: z.string(), listId: z.string(), source: personSourceSchema.optional() }),
  unsubscribe: z.object({
    email: z.string(),
    listId: z.string(),
    source: personSourceSchema.optional(),
    reason: z.string().optional(),
  }),
  bounce: z.object({ email: z.string(), code: z.string().optional(), description: z.string().optional() }),
  updateEmail: z.object({ oldEmail: z.string(), newEmail: z.string(), source: personSourceSchema.optional() }),
  config: z.object({
    rateLimitPerSecond: z.number().int().positive().optional(),
    rateLimitWindowMs: z.number().int().positive().optional(),
    listChangeBumpsUdate: z.boolean().optional(),
    /** share of webhook deliveries lost on the way (0..1), as a network loses them; AC never sends them again */
    webhookDropShare: z.number().min(0).max(1).optional(),
    /** hold each webhook delivery up to this long and send it on its own: later changes may arrive first */
    webhookReorderWindowMs: z.number().int().min(0).optional(),
  }),
};

function run<T>(res: Response, schema: z.ZodType<T>, body: unknown, action: (input: T) => unknown): void {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    res
      .status(400)
      .json({
        error: 'invalid control request',
        issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      });
    return;
  }
  try {
    const result = action(parsed.data);
    res.status(200).json(result ?? { ok: true });
  } catch (error) {
    const status = error instanceof UnknownContactError ? 404 : 400;
    res.status(status).json({ error: error instanceof Error ? error.message : String(error) });
  }
}

export function sandboxControlRoutes(emulator: () => ActiveCampaignEmulator): Router {
  const router = Router();
  router.post('/lists', (req, res) => run(res, schemas.list, req.body, (b) => emulator().createList(b.name)));
  router.post('/contacts', (req, res) =>
    run(res, schemas.contact, req.body, (b) =>
      emulator().createContact(b.email, { firstName: b.firstName, lastName: b.lastName, lists: b.lists }),
    ),
  );
  router.get('/contacts', (req, res) => {
    const email = typeof req.query.email === 'string' ? req.query.email : '';
    const view = emulator().contactByEmail(email);
    if (!view) res.status(404).json({ error: 'no such contact' });
    else res.status(200).json(view);
  });
  router.post('/subscribe', (req, res) =>
    run(res, schemas.subscribe, req.body, (b) => emulator().subscribe(b.email, b.listId, { source: b.source })),
  );
  router.post('/unsubscribe', (req, res) =>
    run(res, schemas.unsubscribe, req.body, (b) =>
      emulator().unsubscribe(b.email, b.listId, { source: b.source, reason: b.reason }),
    ),
  );
  router.post('/hard-bounce', (req, res) =>
    run(res, schemas.bounce, req.body, (b) => emulator().hardBounce(b.email, b)),
  );
  router.post('/soft-bounce', (req, res) =>
    run(res, schemas.bounce, req.body, (b) => emulator().softBounce(b.email, b)),
  );
  router.post('/update-email', (req, res) =>
    run(res, schemas.updateEmail, req.body, (b) =>
      emulator().updateEmail(b.oldEmail, b.newEmail, { source: b.source }),
    ),
  );
  router.post('/faults', (req, res) => run(res, faultSpecSchema, req.body, (b) => emulator().setFault(b)));
  router.delete('/faults', (_req, res) => {
    emulator().clearFaults();
    res.status(200).json({ ok: true });
  });
  router.post('/config', (req, res) => run(res, schemas.config, req.body, (b) => emulator().configure(b)));
  router.post('/imports/flush', (_req, res) => {
    emulator().flushImports();
    res.status(200).json({ ok: true });
  });
  router.get('/requests', (_req, res) => res.status(200).json(emulator().requestLog));
  router.delete('/requests', (_req, res) => {
    emulator().requestLog.length = 0;
    res.status(200).json({ ok: true });
  });
  /** `?email=<address>`: only the deliveries about that contact (case-insensitive). */
  router.get('/webhook-deliveries', (req, res) => {
    const email = z.string().optional().catch(undefined).parse(req.query.email)?.toLowerCase();
    const all = emulator().webhookDeliveries;
    res.status(200).json(email === undefined ? all : all.filter((d) => (d.fields['contact[email]'] ?? '').toLowerCase() === email));
  });
  /** `?from=<n>`: the changes queued for webhooks from the n-th on, each with its hooks and lost deliveries. */
  router.get('/webhook-dispatches', (req, res) => {
    const from = z.coerce.number().int().min(0).catch(0).parse(req.query.from);
    res.status(200).json({ from, dispatches: emulator().webhookDispatches.slice(from) });
  });
  return router;
}
