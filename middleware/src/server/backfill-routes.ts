// POST /admin/backfill: queues the jobs that align data which existed before the middleware was installed (the
// first AC poll only records a baseline, and CDC only carries changes). The CLI's `backfill` computes what is out
// of step and sends it here in batches; the ordinary workers then apply it with every rule, retry and audit entry
// of the live paths. Mount inside the authenticated admin router.
import express, { type Router } from 'express';
import { z } from 'zod';
import type { Store } from '../store';
import type { Clock } from '../store/clock';
import { pushJobKind, type PushJobPayload } from '../sync/push-job';
import { pullJobKind, type PullJobPayload } from '../sync/pull-job';

export const backfillBatchLimit = 1000;

const email = z.email().transform((e) => e.toLowerCase());
export const backfillRequestSchema = z.discriminatedUnion('direction', [
  z.object({
    direction: z.literal('sf-to-ac'),
    items: z.array(z.object({ email, recordIds: z.array(z.string().regex(/^[A-Za-z0-9]{15,18}$/)).max(20) })).min(1).max(backfillBatchLimit),
  }),
  z.object({
    direction: z.literal('ac-to-sf'),
    items: z.array(z.object({ email, acContactId: z.string().regex(/^\d+$/), hardBounced: z.boolean() })).min(1).max(backfillBatchLimit),
  }),
]);
export type BackfillRequest = z.infer<typeof backfillRequestSchema>;

export function backfillRoutes(deps: { store: Store; clock: Clock; onQueued?: (direction: BackfillRequest['direction']) => void }): Router {
  const router = express.Router();
  router.post('/backfill', express.json({ limit: '512kb' }), async (req, res, next) => {
    try {
      const parsed = backfillRequestSchema.safeParse(req.body);
      if (!parsed.success) {
        res.status(400).json({ error: z.prettifyError(parsed.error) });
        return;
      }
      const request = parsed.data;
      const now = deps.clock();
      await deps.store.db.transaction(async (tx) => {
        if (request.direction === 'sf-to-ac') {
          const items = request.items.map((i) => ({
            subject: i.email,
            payload: { email: i.email, optOutPending: true, latestOptedOut: true, latestChangedAt: now.toISOString(), recordIds: i.recordIds, sources: ['BACKFILL'] } satisfies PushJobPayload,
          }));
          await deps.store.jobs.enqueue(tx, pushJobKind, items);
        } else {
          const items = request.items.map((i) => ({
            subject: i.email,
            payload: { email: i.email, acContactId: i.acContactId, optOut: true, hardBounced: i.hardBounced, rule: i.hardBounced ? 'R4' : 'R3', acEventAt: now.toISOString() } satisfies PullJobPayload,
          }));
          await deps.store.jobs.enqueue(tx, pullJobKind, items);
        }
        await deps.store.audit.record(
          request.items.map((i) => ({
            direction: request.direction === 'sf-to-ac' ? 'sf_to_ac' : 'ac_to_sf',
            email: i.email,
            decision: 'backfill-queued',
            reason: request.direction === 'sf-to-ac' ? 'backfill: opted out in Salesforce, still active in ActiveCampaign' : 'backfill: unsubscribed or bounced in ActiveCampaign, not opted out in Salesforce',
            result: 'queued',
          })),
          tx,
        );
      });
      deps.onQueued?.(request.direction);
      res.status(202).json({ queued: request.items.length });
    } catch (error) {
      next(error);
    }
  });
  return router;
}
