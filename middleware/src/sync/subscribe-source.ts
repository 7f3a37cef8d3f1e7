// Whose re-subscribe counts (R5). ActiveCampaign says who started a subscribe only in the webhook delivery's
// `initiated_from`: `public` (the person, through a form or the subscription page), `admin` (someone in AC's
// interface), `api` (an integration, an import through the API) or `system` (automations). A contact's list record
// says nothing dependable about it, so a subscribe seen only by a read (a poll, the reconciliation: its delivery
// was lost, and AC never sends one again) has the source `unknown`. The package setting R5_Subscribe_Sources__c
// names the sources that count; the default, `public` only, keeps R2's promise that only the person re-subscribes.

export const subscribeSources = ['public', 'admin', 'api', 'system', 'unknown'] as const;
export type SubscribeSource = (typeof subscribeSources)[number];

/** The person's own action only: an AC admin, an import or an automation does not opt a Salesforce record back in. */
export const defaultCountedSubscribeSources: readonly SubscribeSource[] = ['public'];

/** A delivery's `initiated_from` as a source; anything else (absent, misspelt) is unknown. */
export function subscribeSourceOf(initiatedFrom: unknown): SubscribeSource {
  const value = typeof initiatedFrom === 'string' ? initiatedFrom.trim().toLowerCase() : '';
  return (subscribeSources as readonly string[]).includes(value) && value !== 'unknown' ? (value as SubscribeSource) : 'unknown';
}

/** List id -> the sources that subscribe deliveries confirmed by the read claim for it. */
export type DeliveredSubscribes = ReadonlyMap<string, ReadonlySet<SubscribeSource>>;

export type ResubscribeVerdict =
  | { counts: true; source: SubscribeSource }
  /** `waiting`: some list's source is not known yet (its delivery may still come); the subscribe is kept aside. */
  | { counts: false; waiting: boolean; reason: string };

/**
 * Judges a zero-to-some-lists subscribe by who started it. A list counts when every delivery confirmed for it names
 * a counted source: two deliveries that disagree about one list (a forged `public` beside AC's own `admin`) leave the
 * doubt, and in doubt the person stays opted out. The subscribe counts when one of the newly active lists counts.
 */
export function judgeResubscribe(lists: readonly string[], delivered: DeliveredSubscribes, counted: readonly SubscribeSource[]): ResubscribeVerdict {
  const seen: string[] = [];
  let unknownLists = 0;
  for (const list of lists) {
    const sources = [...(delivered.get(list) ?? [])];
    if (sources.length === 0) {
      if (counted.includes('unknown')) return { counts: true, source: 'unknown' };
      unknownLists++;
      continue;
    }
    if (sources.every((s) => counted.includes(s))) return { counts: true, source: sources[0] ?? 'unknown' };
    seen.push(`list ${list} from ${sources.sort().join('+')}`);
  }
  const setting = `R5_Subscribe_Sources__c counts ${counted.join(', ') || 'nothing'}`;
  if (unknownLists > 0) return { counts: false, waiting: true, reason: `R5 waits: no delivery has said who subscribed (${setting})` };
  return { counts: false, waiting: false, reason: `R5 not counted: subscribed ${seen.join(', ')} (${setting})` };
}

/** Parses the setting's text ("public, admin"): names separated by commas, semicolons or spaces. */
export function parseSubscribeSources(text: string): SubscribeSource[] | { error: string } {
  const names = text.split(/[\s,;]+/).map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
  const wrong = names.filter((n) => !(subscribeSources as readonly string[]).includes(n));
  if (wrong.length > 0) return { error: `unknown subscribe source ${wrong.map((w) => `"${w}"`).join(', ')} (expected ${subscribeSources.join(', ')})` };
  return [...new Set(names)] as SubscribeSource[];
}

/** A re-subscribe seen before any delivery said who made it: it waits, with AC's date of it, for its source. */
export interface AwaitingSubscribe {
  at: Date;
  lists: string[];
}

export interface ResubscribeOutcome {
  /** The R5 to queue (dated by AC's own subscribe date), or null. */
  queue: { at: Date; lists: string[]; source: SubscribeSource } | null;
  /** What still waits for its source after this observation. */
  awaiting: AwaitingSubscribe | null;
  /** Why a subscribe was not counted (or waits), for the audit; null when there is nothing to say. */
  skipped: string | null;
}

/**
 * One observation of a contact, as far as R5 goes: a zero-to-some-lists subscribe it shows (`detected`), or one an
 * earlier read saw and left waiting, is judged by the deliveries confirmed by this read. A read may come before the
 * delivery (a poll a moment after the subscribe, the webhook processor lingering): the subscribe then waits, and
 * the delivery processed later decides, as long as a list that subscribe made active still is. Those lists left
 * again, or a hard bounce, end the wait: that subscribe is over. It keeps AC's date of the subscribe.
 */
export function resolveResubscribe(input: {
  detected: { at: Date; lists: string[] } | null;
  awaiting: AwaitingSubscribe | null;
  listStatuses: Record<string, number>;
  hardBounced: boolean;
  delivered: DeliveredSubscribes;
  counted: readonly SubscribeSource[];
}): ResubscribeOutcome {
  const candidate = input.detected ?? input.awaiting;
  if (candidate === null) return { queue: null, awaiting: null, skipped: null };
  // Only the lists that subscribe made active: joining another list while already on one is no zero-to-some
  // subscribe (R5), whoever made it.
  const stillActive = input.detected !== null ? candidate.lists : candidate.lists.filter((l) => input.listStatuses[l] === 1);
  if (input.hardBounced || stillActive.length === 0) return { queue: null, awaiting: null, skipped: null };
  const verdict = judgeResubscribe(stillActive, input.delivered, input.counted);
  if (verdict.counts) return { queue: { at: candidate.at, lists: stillActive, source: verdict.source }, awaiting: null, skipped: null };
  if (verdict.waiting) {
    const awaiting = { at: candidate.at, lists: stillActive };
    // Said once, when the wait begins; a later read that still knows nothing more adds no audit line.
    return { queue: null, awaiting, skipped: input.detected !== null ? verdict.reason : null };
  }
  return { queue: null, awaiting: null, skipped: verdict.reason };
}
