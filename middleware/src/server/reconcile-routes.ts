// The full reconciliation through the admin API (mount inside the authenticated admin router):
// POST /reconcile/full {dryRun} starts a pass (or joins the one running) and answers at once; GET /reconcile/full
// tells whether one runs, how far it is, and the last finished pass's report. The CLI's `reconcile --full` polls it
// for its progress bar.
import express, { type Router } from 'express';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { FullReconciler } from '../reconcile/full-reconciler';

const startBody = z.object({ dryRun: z.boolean().default(false) });

export function reconcileRoutes(deps: { reconciler: () => FullReconciler | null; logger: Logger }): Router {
  const router = express.Router();
  router.post('/reconcile/full', express.json({ limit: '1kb' }), async (req, res) => {
    const parsed = startBody.safeParse(req.body ?? {});
    if (!parsed.success) {
      res.status(400).json({ error: z.prettifyError(parsed.error) });
      return;
    }
    const reconciler = deps.reconciler();
    if (reconciler === null) {
      res.status(503).json({ error: 'the reconciler is not ready' });
      return;
    }
    const alreadyRunning = reconciler.state().running;
    if (!alreadyRunning && (await reconciler.runningElsewhere())) {
      res.status(409).json({ error: 'a full reconciliation is running on another instance; its progress is on that instance' });
      return;
    }
    reconciler.run({ dryRun: parsed.data.dryRun }).catch((err: unknown) => deps.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'full reconciliation failed'));
    res.status(202).json({ started: !alreadyRunning, alreadyRunning });
  });
  router.get('/reconcile/full', (_req, res) => {
    const reconciler = deps.reconciler();
    res.json(reconciler === null ? { running: false, progress: null, last: null, lastError: null } : reconciler.state());
  });
  return router;
}
