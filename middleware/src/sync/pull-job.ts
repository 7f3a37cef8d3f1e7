// The reverse path's job: "bring the Salesforce records of this email in line with what ActiveCampaign decided".
// Newest AC decision wins, except that a hard bounce is never undone by a later subscribe (bounce beats
// subscribe, R4/R5) and an opt-out is never lost to a merge.
import { z } from 'zod';
import type { JobKind } from '../store/job-queue';

export const pullJobPayload = z.object({
  email: z.string().min(3),
  acContactId: z.string(),
  /** What Salesforce should hold: true = opted out. */
  optOut: z.boolean(),
  hardBounced: z.boolean(),
  rule: z.enum(['R3', 'R4', 'R5']),
  /** When the person acted in AC: R5 compares it with the Salesforce opt-out time. */
  acEventAt: z.iso.datetime(),
});
export type PullJobPayload = z.infer<typeof pullJobPayload>;

export function mergePullPayloads(queued: PullJobPayload, incoming: PullJobPayload): PullJobPayload {
  const hardBounced = queued.hardBounced || incoming.hardBounced;
  const newer = Date.parse(incoming.acEventAt) >= Date.parse(queued.acEventAt) ? incoming : queued;
  if (hardBounced) {
    const bounce = queued.hardBounced ? queued : incoming;
    return { ...newer, hardBounced: true, optOut: true, rule: newer.optOut ? newer.rule : bounce.rule };
  }
  return newer;
}

export const pullJobKind: JobKind<PullJobPayload> = {
  name: 'pull-email',
  payload: pullJobPayload,
  merge: mergePullPayloads,
};
