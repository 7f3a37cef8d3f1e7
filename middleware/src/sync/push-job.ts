// The push path's job: "bring this email in line in ActiveCampaign". One queued job per email; newer changes
// merge into it. The merge never drops an opt-out (R1 is a legal promise): an opt-out followed by an opt-in still
// unsubscribes, and the opt-in is then handled by R2 (sticky by default).
import { z } from 'zod';
import type { JobKind } from '../store/job-queue';
import { normaliseEmail, type OptOutChangeInput } from './opt-out-change';

const MAX_RECORDS_KEPT = 20;

export const pushJobPayload = z.object({
  email: z.string().min(3),
  /** An opt-out arrived that has not been applied yet. */
  optOutPending: z.boolean(),
  /**
   * When the earliest pending opt-out was made in Salesforce: the unsubscribe it causes in AC, and the R3 that
   * follows for the email's other records, happened then in the rules' order, however late the worker runs.
   */
  optOutAt: z.iso.datetime().nullish(),
  /** The newest Salesforce value seen for this email, and when it changed. */
  latestOptedOut: z.boolean(),
  latestChangedAt: z.iso.datetime(),
  /** A few of the records behind the job, for the audit trail. */
  recordIds: z.array(z.string()).max(MAX_RECORDS_KEPT),
  sources: z.array(z.string()).max(10),
});
export type PushJobPayload = z.infer<typeof pushJobPayload>;

export function pushPayloadFromChange(change: OptOutChangeInput): PushJobPayload {
  return {
    email: normaliseEmail(change.email),
    optOutPending: change.optedOut,
    optOutAt: change.optedOut ? change.changedAt.toISOString() : null,
    latestOptedOut: change.optedOut,
    latestChangedAt: change.changedAt.toISOString(),
    recordIds: [change.recordId],
    sources: [change.source],
  };
}

export function mergePushPayloads(queued: PushJobPayload, incoming: PushJobPayload): PushJobPayload {
  // Events can arrive out of order (replay after a gap, a Flow and CDC for one edit): the newer change time wins.
  const incomingIsNewer = Date.parse(incoming.latestChangedAt) >= Date.parse(queued.latestChangedAt);
  const latest = incomingIsNewer ? incoming : queued;
  return {
    email: queued.email,
    optOutPending: queued.optOutPending || incoming.optOutPending,
    optOutAt: earliest(queued.optOutAt ?? null, incoming.optOutAt ?? null),
    latestOptedOut: latest.latestOptedOut,
    latestChangedAt: latest.latestChangedAt,
    recordIds: [...new Set([...queued.recordIds, ...incoming.recordIds])].slice(-MAX_RECORDS_KEPT),
    sources: [...new Set([...queued.sources, ...incoming.sources])].slice(-10),
  };
}

function earliest(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return Date.parse(a) <= Date.parse(b) ? a : b;
}

export const pushJobKind: JobKind<PushJobPayload> = {
  name: 'push-email',
  payload: pushJobPayload,
  merge: mergePushPayloads,
};
