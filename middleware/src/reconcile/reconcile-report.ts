// The full reconciliation's report and progress as the admin API sends them: one zod schema shared by the server's
// answer and the CLI that reads it (a CLI may face an older or newer middleware).
import { z } from 'zod';

export const reconcileProgressSchema = z.object({
  phase: z.enum(['salesforce', 'activecampaign', 'dead-letters', 'done']),
  done: z.number(),
  total: z.number().nullable(),
});

export const reconcileReportSchema = z.object({
  dryRun: z.boolean(),
  startedAt: z.string(),
  finishedAt: z.string(),
  salesforceRecords: z.number(),
  acContacts: z.number(),
  compared: z.number(),
  drift: z.object({ sfToAc: z.number(), acToSf: z.number() }),
  queued: z.number(),
  deadLetters: z.object({ examined: z.number(), superseded: z.number(), inStep: z.number(), requeued: z.number() }),
  acRequests: z.number(),
  sample: z.array(z.object({ email: z.string(), direction: z.enum(['sf-to-ac', 'ac-to-sf']), detail: z.string() })),
});

export const reconcileStateSchema = z.object({
  running: z.boolean(),
  progress: reconcileProgressSchema.nullable(),
  last: reconcileReportSchema.nullable(),
  lastError: z.string().nullable(),
});

export type ReconcileProgress = z.infer<typeof reconcileProgressSchema>;
export type ReconcileReport = z.infer<typeof reconcileReportSchema>;
export type ReconcileState = z.infer<typeof reconcileStateSchema>;
