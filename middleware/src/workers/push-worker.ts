// Applies queued Salesforce opt-out changes to ActiveCampaign (R1, R2). Single changes go through the API one
// list at a time (fresh read, then status 2 where needed); a backlog above the threshold goes through bulk import,
// 250 contacts a call, for contacts whose lists the snapshot knows (bulk import would create unknown contacts).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Store, SqlExecutor } from '../store';
import { mayHaveJoinedSince, type AcContactState } from '../sync/ac-transitions';
import type { AuditEntry } from '../store/audit-log';
import type { ClaimedJob, RetryPolicy } from '../store/job-queue';
import type { Clock } from '../store/clock';
import type { ActiveCampaignClient } from '../activecampaign/activecampaign-client';
import { unsubscribeFromAllLists, type UnsubscribeProgress } from '../activecampaign/unsubscribe-from-all-lists';
import { resubscribeLists } from '../activecampaign/resubscribe-lists';
import { defaultImportCheckMs, ImportProcessingEstimate, unsubscribeInBulk, type BulkUnsubscriberOptions } from '../activecampaign/bulk-unsubscriber';
import { classifyFailure } from './failure-class';
import { AcRateLimitedError } from '../activecampaign/activecampaign-errors';
import { UNKNOWN_AND_OLD } from '../sync/opt-out-recency';
import type { VendorCircuit } from './vendor-circuit';
import { pushJobKind, type PushJobPayload } from '../sync/push-job';
import type { Settings } from '../sync/settings';
import type { SalesforceRecordReader } from './salesforce-records';
import type { Metrics } from '../observability/metrics';
import { emailHash } from '../observability/logger';
import { dropOptOutCauses, recordOptOutCauses } from './opt-out-causes';
import { UnsubscribeIntents } from './unsubscribe-intents';
import { stateAfterOwnUnsubscribe, toAcContactState } from './ac-contact-state';

type AcClient = Pick<ActiveCampaignClient, 'findContactWithListsByEmail' | 'findContactByEmail' | 'setListStatus' | 'bulkImportUnsubscribe' | 'getImportStatus' | 'getContactsWithLists'>;

/** Contacts per verifying read (GET /contacts?ids[]=, AC's page size). */
const VERIFY_BATCH = 100;

export interface PushWorkerDeps {
  store: Store;
  ac: AcClient;
  reader: SalesforceRecordReader;
  settings: () => Settings;
  bulkThreshold: number;
  /** R7 tag scope: whether an AC contact carries the scope tag. */
  acContactInScope?: (acContactId: string) => Promise<boolean>;
  bulkOptions?: BulkUnsubscriberOptions;
  /** Single jobs worked at once; the rate limiter, not this number, bounds AC requests per second. */
  concurrency?: number;
  /** How long a claimed job stays locked: after a crash its jobs wait this long before another instance takes them. */
  leaseMs?: number;
  retry: RetryPolicy;
  /** ActiveCampaign's circuit: while it is open, one job at a time probes and the rest wait without using attempts. */
  circuit?: VendorCircuit;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Hands what our own AC writes left to the reverse path's detector, in the job's transaction (ownWriteObserver). */
  observeOwnWrites?: (observations: AcContactState[], tx: SqlExecutor) => Promise<boolean>;
  /** Wakes the pull loop after a transaction that queued pull work has committed (before it, the loop finds nothing). */
  onPullWorkQueued?: () => void;
}

const LEASE_MS = 5 * 60_000;
const BULK_BATCH = 250;
/** Imports of a round are submitted back to back and confirmed together. */
const MAX_ROUND = BULK_BATCH * 10;
/**
 * Contacts claimed by rounds not yet confirmed. At 5 requests/s (an import plus its status check) AC takes 2.5
 * imports/s; 20 imports in flight cover ~8 s of processing and checks, twice what keeps the pipeline full, and are
 * confirmed well inside the 30 s job lease.
 */
const MAX_CONTACTS_IN_FLIGHT = BULK_BATCH * 20;
/** A tail below one import goes out once the ready count has not changed for this long. */
const TAIL_QUIET_MS = 1000;

export class PushWorker {
  private readonly bulkRounds = new Set<Promise<void>>();
  /** A backlog is being worked off through bulk import (set above the threshold, cleared by its last round). */
  private inBacklog = false;
  private contactsInFlight = 0;
  /** When the ready count last changed: a tail is sent once arrivals stop. */
  private lastReady = -1;
  private readySince = 0;
  /** AC's import processing time as learned by this worker's status checks. */
  private readonly importProcessing: ImportProcessingEstimate;

  constructor(private readonly deps: PushWorkerDeps) {
    this.importProcessing = new ImportProcessingEstimate(deps.bulkOptions?.pollIntervalMs ?? defaultImportCheckMs);
  }

  /** A backlog is being worked off through bulk import by this worker. */
  inBulkBacklog(): boolean {
    return this.inBacklog;
  }

  /** Resolves once no bulk round is in flight (a clean stop waits for this). */
  async idle(): Promise<void> {
    while (this.bulkRounds.size > 0) await Promise.allSettled([...this.bulkRounds]);
  }

  /** Handles one round of ready jobs; returns how many it took. */
  async runOnce(): Promise<number> {
    const gate = this.deps.circuit?.gate() ?? 'closed';
    if (gate === 'open') return 0;
    if (gate === 'probe') return this.runProbe();
    const ready = await this.deps.store.jobs.readyCount(pushJobKind.name);
    if (ready === 0) {
      if (this.bulkRounds.size === 0) this.inBacklog = false;
      return 0;
    }
    // A backlog (more ready than the threshold) goes through bulk import until it is worked off. Bulk import cannot
    // check a scope tag per contact: with a tag scope every job takes the single path.
    if (ready > this.deps.bulkThreshold) this.inBacklog = true;
    if (this.inBacklog && this.deps.settings().scopeAcTag === null) return this.runBacklog(ready);
    const jobs = await this.deps.store.jobs.claim(pushJobKind, this.deps.concurrency ?? 4, this.deps.leaseMs ?? LEASE_MS);
    try {
      await Promise.all(jobs.map((job) => this.runSingle(job)));
    } finally {
      // A job whose failure could not even be recorded (database gone) returns to the queue when its lease runs out.
      this.deps.store.jobs.letGo(jobs);
    }
    return jobs.length;
  }

  /** AC has been failing: one job, through the single path, tells whether it answers again. */
  private async runProbe(): Promise<number> {
    let jobs: ClaimedJob<PushJobPayload>[] = [];
    try {
      jobs = await this.deps.store.jobs.claim(pushJobKind, 1, this.deps.leaseMs ?? LEASE_MS);
      if (jobs.length === 0) {
        this.deps.circuit?.probeUnused();
        return 0;
      }
      await Promise.all(jobs.map((job) => this.runSingle(job)));
      return jobs.length;
    } finally {
      this.deps.store.jobs.letGo(jobs);
      // A probe that ended without telling (our own database failed) lets the next round probe again.
      this.deps.circuit?.probeUnused();
    }
  }

  /**
   * Keeps AC's import pipeline full while a backlog arrives and drains: a round starts as soon as a whole import
   * (250) is ready, rounds overlap (one round's imports are processed by AC and confirmed while the next submits),
   * and what is in flight is bounded so that claimed jobs are confirmed well within their lease. A tail of fewer
   * than 250 waits for more to arrive, and goes as the last round once arrivals have stopped; the backlog then ends
   * and later opt-outs take the single path again.
   */
  private async runBacklog(ready: number): Promise<number> {
    const now = this.deps.clock().getTime();
    if (ready !== this.lastReady) {
      this.lastReady = ready;
      this.readySince = now;
    }
    const room = MAX_CONTACTS_IN_FLIGHT - this.contactsInFlight;
    // A tail goes once arrivals have stopped, whether or not a round is in flight: a backlog that arrives slower than
    // AC imports it (Pub/Sub hands events over 100 at a time) would otherwise go out as many small imports, and each
    // tail ends the backlog, sending what arrives next down the single path (two or more requests a person).
    const quiet = now - this.readySince >= TAIL_QUIET_MS;
    if (room >= BULK_BATCH && (ready >= BULK_BATCH || quiet)) {
      const take = ready >= BULK_BATCH ? Math.min(MAX_ROUND, Math.floor(Math.min(ready, room) / BULK_BATCH) * BULK_BATCH) : ready;
      const jobs = await this.deps.store.jobs.claim(pushJobKind, take, this.deps.leaseMs ?? LEASE_MS);
      if (jobs.length > 0) {
        if (ready < BULK_BATCH) this.inBacklog = false;
        this.startBulkRound(jobs);
        return jobs.length;
      }
    }
    // Full, or a tail still growing: wake when a round ends or arrivals may have added to the tail.
    await Promise.race([...this.bulkRounds, sleep(TAIL_QUIET_MS / 4)]);
    return 1;
  }

  private startBulkRound(jobs: ClaimedJob<PushJobPayload>[]): void {
    this.contactsInFlight += jobs.length;
    const round: Promise<void> = this.runBulkRound(jobs)
      .catch((error: unknown) => this.deps.logger.error({ err: error instanceof Error ? error.message : String(error), jobs: jobs.length }, 'bulk round failed; its jobs return to the queue when their leases expire'))
      .finally(() => {
        this.deps.store.jobs.letGo(jobs);
        this.contactsInFlight -= jobs.length;
        this.bulkRounds.delete(round);
      });
    this.bulkRounds.add(round);
  }

  private async runSingle(job: ClaimedJob<PushJobPayload>): Promise<void> {
    const { store } = this.deps;
    const p = job.payload;
    const audits: AuditEntry[] = [];
    const correlation = { job: job.id, attempt: job.attempts, records: p.recordIds.slice(0, 5).join(',') };
    const progress: UnsubscribeProgress = { contactId: null, changed: [] };
    try {
      let unsubscribed: { contactId: string; lists: { listId: string; previousStatus: number }[] } | null = null;
      let leftState: AcContactState | null = null;
      if (!(await this.inTagScope(p.email))) {
        await store.db.transaction(async (tx) => {
          await store.audit.record([{ direction: 'sf_to_ac', email: p.email, recordId: p.recordIds[0] ?? null, decision: 'skip', reason: 'R7: the ActiveCampaign contact does not carry the scope tag', result: 'out of scope', correlation }], tx);
          await store.jobs.complete(job.id, tx);
        });
        return;
      }
      let causeToDrop = false;
      if (p.optOutPending) {
        if (p.optOutAt !== undefined && p.optOutAt !== null) await recordOptOutCauses(store, [{ email: p.email, at: p.optOutAt }]);
        const intents = new UnsubscribeIntents(store);
        const earlier = await intents.load(p.email);
        // The newest change of the job is at or after its last opt-out: lists joined after it are the person's newer choice.
        const result = await unsubscribeFromAllLists(intents.recording(this.deps.ac, p.email, earlier), p.email, progress, new Date(p.latestChangedAt));
        if (result.kind === 'unsubscribed') result.changed.push(...UnsubscribeIntents.recovered(earlier, result.contactId, result.alreadyUnsubscribed));
        // No list changed: no R3 will come to consume the cause, and a stale one would misdate a later R3.
        causeToDrop = result.kind === 'not-in-ac' || result.changed.length === 0;
        if (result.kind === 'not-in-ac') {
          audits.push({ direction: 'sf_to_ac', email: p.email, recordId: p.recordIds[0] ?? null, decision: 'unsubscribe-all-lists', reason: 'R1: Email Opt Out turned true', result: 'not in ActiveCampaign', correlation });
        } else {
          unsubscribed = { contactId: result.contactId, lists: result.changed };
          if (result.changed.length > 0) leftState = stateAfterOwnUnsubscribe(result.contactId, result.contactEmail, result.hardBounced, result.membershipsAfter);
          for (const change of result.changed) {
            audits.push({ direction: 'sf_to_ac', email: p.email, recordId: p.recordIds[0] ?? null, acContactId: result.contactId, oldValue: `list ${change.listId}: ${change.previousStatus}`, newValue: `list ${change.listId}: 2`, decision: 'unsubscribe-list', reason: 'R1: Email Opt Out turned true', result: 'unsubscribed', correlation });
          }
          if (result.joinedAfter.length > 0) {
            audits.push({ direction: 'sf_to_ac', email: p.email, recordId: p.recordIds[0] ?? null, acContactId: result.contactId, decision: 'skip', reason: 'R1: subscribed again after the opt-out (newest wins)', result: `kept lists ${result.joinedAfter.join(', ')}`, correlation });
          }
          if (result.changed.length === 0) {
            audits.push({ direction: 'sf_to_ac', email: p.email, recordId: p.recordIds[0] ?? null, acContactId: result.contactId, decision: 'unsubscribe-all-lists', reason: 'R1: Email Opt Out turned true', result: `already unsubscribed everywhere (${result.alreadyUnsubscribed.length} lists)`, correlation });
          }
        }
      }
      if (!p.latestOptedOut) audits.push(...(await this.handleOptIn(p, correlation)));
      let pullQueued = false;
      await store.db.transaction(async (tx) => {
        if (unsubscribed !== null) await store.unsubscribedLists.remember(unsubscribed.contactId, p.email, unsubscribed.lists, tx);
        if (leftState !== null) pullQueued = (await this.deps.observeOwnWrites?.([leftState], tx)) === true;
        if (causeToDrop) await dropOptOutCauses(store, [p.email], tx);
        if (p.optOutPending) await new UnsubscribeIntents(store).settle(p.email, 'all', tx);
        await store.audit.record(audits, tx);
        await store.jobs.complete(job.id, tx);
      });
      if (pullQueued) this.deps.onPullWorkQueued?.();
      this.deps.circuit?.succeeded();
      this.deps.metrics.jobsSucceeded.inc({ kind: pushJobKind.name });
      this.observeLatency(p);
      this.deps.logger.info({ email: emailHash(p.email), job: job.id, decisions: audits.map((a) => a.result) }, 'activecampaign brought in line');
    } catch (error) {
      await this.recordPartialUnsubscribe(p, progress, correlation);
      await this.failJob(job, error);
    }
  }

  /** Lists a failed attempt had already unsubscribed: the retry skips them (already 2), so they are audited here. */
  private async recordPartialUnsubscribe(p: PushJobPayload, progress: UnsubscribeProgress, correlation: Record<string, string | number>): Promise<void> {
    const contactId = progress.contactId;
    if (contactId === null || progress.changed.length === 0) return;
    const audits: AuditEntry[] = progress.changed.map((change) => ({ direction: 'sf_to_ac', email: p.email, recordId: p.recordIds[0] ?? null, acContactId: contactId, oldValue: `list ${change.listId}: ${change.previousStatus}`, newValue: `list ${change.listId}: 2`, decision: 'unsubscribe-list', reason: 'R1: Email Opt Out turned true', result: 'unsubscribed', correlation: { ...correlation, partial: true } }));
    await this.deps.store.db
      .transaction(async (tx) => {
        await this.deps.store.unsubscribedLists.remember(contactId, p.email, progress.changed, tx);
        await this.deps.store.audit.record(audits, tx);
        await new UnsubscribeIntents(this.deps.store).settle(p.email, progress.changed.map((c) => c.listId), tx);
      })
      .catch((err: unknown) => this.deps.logger.error({ email: emailHash(p.email), err: err instanceof Error ? err.message : String(err) }, 'could not audit the lists a failed attempt unsubscribed'));
  }

  private async inTagScope(email: string): Promise<boolean> {
    if (this.deps.acContactInScope === undefined || this.deps.settings().scopeAcTag === null) return true;
    const contact = await this.deps.ac.findContactByEmail(email);
    // Not in AC: in scope, so that the "not in ActiveCampaign" outcome is audited as usual.
    return contact === null ? true : this.deps.acContactInScope(contact.id);
  }

  /** R2: sticky by default; with resubscribeOnOptIn, undo exactly what we did, and only when nobody opted out. */
  private async handleOptIn(p: PushJobPayload, correlation: Record<string, string | number>): Promise<AuditEntry[]> {
    const base = { direction: 'sf_to_ac' as const, email: p.email, recordId: p.recordIds[p.recordIds.length - 1] ?? null, decision: 'opt-in', correlation };
    if (!this.deps.settings().resubscribeOnOptIn) return [{ ...base, reason: 'R2: Email Opt Out turned false', result: 'kept: sticky opt-out' }];
    const records = await this.deps.reader.readByEmails([p.email]);
    const stillOptedOut = records.filter((r) => r.optedOut);
    if (stillOptedOut.length > 0) return [{ ...base, reason: `R2: ${stillOptedOut.length} record(s) with this email are still opted out`, result: 'kept: still opted out in Salesforce' }];
    const contact = await this.deps.ac.findContactWithListsByEmail(p.email);
    if (contact === null) return [{ ...base, reason: 'R2 (resubscribeOnOptIn)', result: 'not in ActiveCampaign' }];
    const ours = await this.deps.store.unsubscribedLists.listFor(contact.contact.id);
    if (ours.length === 0) return [{ ...base, acContactId: contact.contact.id, reason: 'R2 (resubscribeOnOptIn): this product unsubscribed no list', result: 'nothing to undo' }];
    const result = await resubscribeLists(this.deps.ac, { email: p.email, listIds: ours.map((l) => l.listId) });
    if (result.kind !== 'resubscribed') {
      return [{ ...base, acContactId: contact.contact.id, reason: 'R2 (resubscribeOnOptIn): never after a bounce', result: result.kind === 'refused-bounced' ? 'kept: hard-bounced' : 'not in ActiveCampaign' }];
    }
    await this.deps.store.unsubscribedLists.forget(result.contactId, ours.map((l) => l.listId));
    return result.changed.map((c) => ({ ...base, acContactId: result.contactId, oldValue: `list ${c.listId}: ${c.previousStatus ?? 'none'}`, newValue: `list ${c.listId}: 1`, reason: 'R2 (resubscribeOnOptIn): undo our own unsubscribe', result: 'resubscribed' }));
  }

  /**
   * Bulk path for pure opt-outs of contacts the snapshot knows. Everything else in the claimed batch is released
   * for the single path. Outcomes the import status cannot confirm go back to the queue and are then verified by
   * the single path's fresh read.
   */
  private async runBulkRound(jobs: ClaimedJob<PushJobPayload>[]): Promise<void> {
    const { store } = this.deps;
    const candidates: { job: ClaimedJob<PushJobPayload>; contactId: string; lists: Record<string, number> }[] = [];
    const rest: ClaimedJob<PushJobPayload>[] = [];
    // A retried job (a failed attempt, an unconfirmed import, a lease taken back from a killed instance) may already
    // have acted in AC: only the single path's fresh read can tell, and it sends nothing twice.
    const pure = jobs.filter((job) => job.attempts <= 1 && job.payload.optOutPending && job.payload.latestOptedOut);
    const snapshots = await store.snapshots.findByEmails(pure.map((job) => job.payload.email));
    for (const job of jobs) {
      const snapshot = pure.includes(job) ? snapshots.get(job.payload.email) : undefined;
      // The import sets every list it names to 2 and cannot tell when each was joined: a contact on a list AC dates
      // after the opt-out, seen joining one since (an undated join), or changed in AC since takes the single path,
      // which reads each list's subscribe date. Found by an outside review: a queued opt-out (AC refusing imports, a
      // replayed or reconciled change) unsubscribed a list joined after it.
      // Not seen_at: every poll and reconciliation re-reads an unchanged state, and after an outage that sent the
      // whole backlog down the single path (chaos: the drain went from 72 s to 299 s; push-path's 300-contact import
      // timed out under CI load).
      const changedSince = snapshot !== undefined && mayHaveJoinedSince(snapshot, new Date(job.payload.latestChangedAt));
      if (snapshot !== undefined && !changedSince && Object.keys(snapshot.listStatuses).length > 0) candidates.push({ job, contactId: snapshot.acContactId, lists: snapshot.listStatuses });
      else rest.push(job);
    }
    const nothingToDo = candidates.filter((c) => !Object.values(c.lists).some((s) => s === 0 || s === 1));
    const toImport = candidates.filter((c) => !nothingToDo.includes(c));
    // Jobs the import cannot take, and those whose snapshot says nothing is active (verified by a fresh read
    // rather than trusted), take the single path a few at a time, beside the imports rather than before them:
    // a few hundred of them would otherwise hold the round's thousands back for minutes.
    const singles = forEachLimited([...rest, ...nothingToDo.map((c) => c.job)], this.deps.concurrency ?? 4, (job) => this.runSingle(job));
    try {
      await this.importRound(toImport);
    } finally {
      await singles;
    }
  }

  private async importRound(toImport: { job: ClaimedJob<PushJobPayload>; contactId: string; lists: Record<string, number> }[]): Promise<void> {
    const { store } = this.deps;
    if (toImport.length === 0) return;
    await recordOptOutCauses(store, toImport.flatMap((c) => (c.job.payload.optOutAt ? [{ email: c.job.payload.email, at: c.job.payload.optOutAt }] : [])));
    // Write-ahead, as the single path does per POST: each batch is noted just before it is sent, so that if its
    // outcome never comes back, the retry's read finds these lists at 2 and the notes say this product set them
    // (audit, and the lists R2 may undo). A batch AC refused, or a contact AC says failed, had nothing applied: its
    // note goes, or it would claim a list the person or an admin left later.
    const intents = new UnsubscribeIntents(store);
    // The lists the import names: those active or unconfirmed in the snapshot, with the status they leave.
    const active = new Map(toImport.map((c) => [c.job.payload.email, { contactId: c.contactId, lists: Object.entries(c.lists).filter(([, s]) => s === 0 || s === 1).map(([listId, previousStatus]) => ({ listId, previousStatus })) }]));
    const noteOf = (email: string) => ({ email, ...active.get(email)! });
    let report;
    try {
      report = await unsubscribeInBulk(
        this.deps.ac,
        toImport.map((c) => ({ email: c.job.payload.email, contactId: c.contactId, listIds: active.get(c.job.payload.email)!.lists.map((l) => l.listId) })),
        {
          ...this.deps.bulkOptions,
          processing: this.importProcessing,
          onSubmitting: (batch) => intents.noteImport(batch.map((b) => noteOf(b.email))),
          onRefused: (batch) => intents.clear(batch.map((b) => b.email)),
        },
      );
    } catch (error) {
      this.noteVendorFailure(error);
      const failure = classifyFailure(error);
      if (failure.failureClass === 'permanent') {
        // AC refused a whole import (one invalid email rejects its batch, a status check answered 404): that is no
        // contact's own refusal. Every job of the round takes the single path, which judges each contact alone.
        await Promise.all(toImport.map((c) => store.jobs.requeue(pushJobKind, c.job, this.deps.clock(), `bulk import refused: ${failure.message}`)));
        return;
      }
      // An outage or a refused token: the round confirmed nothing. Its jobs go back without using an attempt, so
      // that they stay "pure" and drain through bulk import once AC answers again (a retried job takes the single
      // path, and 10,000 of them would take 10,000 reads). Sending an import twice changes nothing in AC.
      const runAfter = new Date(this.deps.clock().getTime() + Math.max(failure.retryAfterMs, this.deps.retry.backoffBaseMs));
      await Promise.all(toImport.map((c) => store.jobs.requeue(pushJobKind, c.job, runAfter, `${failure.failureClass}: ${failure.message}`, c.job.attempts - 1)));
      this.deps.metrics.jobsFailed.inc({ kind: pushJobKind.name }, toImport.length);
      this.deps.logger.warn({ contacts: toImport.length, failureClass: failure.failureClass, error: failure.message }, 'bulk import round failed; its jobs wait for ActiveCampaign');
      return;
    }
    const outcomeByEmail = new Map(report.outcomes.map((o) => [o.email, o.outcome]));
    await intents.clear(report.outcomes.filter((o) => o.outcome === 'failed').map((o) => o.email));
    // A round AC never answered is no sign of health: the circuit hears of it as of any outage.
    if (report.outcomes.length > 0 && report.outcomes.every((o) => o.outcome === 'unreachable')) this.deps.circuit?.failed('transient', 'ActiveCampaign did not answer the status checks of a bulk import');
    else this.deps.circuit?.succeeded();
    const imported: (typeof toImport)[number][] = [];
    // AC stopped answering the status checks until the round's deadline (an outage longer than bulkMaxWaitMs): the
    // import may or may not have been applied. Its jobs go back without using an attempt, like a round that failed
    // outright, so that they drain through bulk import once AC answers (the write-ahead notes record what the
    // import did, whichever round confirms it); sent down the single path, an outage's backlog took minutes more
    // at 5 requests/s (Pub/Sub chaos: drained 293 s after a 10-minute outage).
    const unreachable = toImport.filter((c) => outcomeByEmail.get(c.job.payload.email) === 'unreachable');
    if (unreachable.length > 0) {
      const runAfter = new Date(this.deps.clock().getTime() + this.deps.retry.backoffBaseMs);
      await Promise.all(unreachable.map((c) => store.jobs.requeue(pushJobKind, c.job, runAfter, 'bulk import outcome: ActiveCampaign did not answer its status checks', c.job.attempts - 1)));
      this.deps.metrics.jobsFailed.inc({ kind: pushJobKind.name }, unreachable.length);
      this.deps.logger.warn({ contacts: unreachable.length }, 'bulk import round ran out of time while ActiveCampaign did not answer; its jobs wait for ActiveCampaign');
    }
    for (const c of toImport) {
      const outcome = outcomeByEmail.get(c.job.payload.email);
      if (outcome === 'unreachable') continue;
      if (outcome !== 'unsubscribed') {
        // Unconfirmed: let the single path read AC and finish the job (idempotent: it skips what is done).
        await store.jobs.requeue(pushJobKind, c.job, this.deps.clock(), `bulk import outcome: ${outcome ?? 'missing'}`);
        continue;
      }
      imported.push(c);
    }
    // The import named the lists the snapshot knew; the contact may be on others (a list joined by an import or a
    // form whose webhook never came: AC fires none for imports and never retries a lost delivery). So AC is read
    // again, 100 contacts a call, and a contact still active on a list it joined before the opt-out goes through
    // the single path, whose fresh read unsubscribes it. Only then is the job done.
    const verified = await this.verifyImported(imported);
    const confirmed: { c: (typeof toImport)[number]; lists: { listId: string; previousStatus: number }[] }[] = [];
    for (const { c, stillActive, unsubscribedLists } of verified.results) {
      const lists = unsubscribedLists.map((listId) => ({ listId, previousStatus: c.lists[listId] ?? 1 }));
      if (stillActive.length === 0) {
        confirmed.push({ c, lists });
        continue;
      }
      await store.db.transaction(async (tx) => {
        await intents.clear([c.job.payload.email], tx);
        await store.unsubscribedLists.remember(c.contactId, c.job.payload.email, lists, tx);
        await store.audit.record(lists.map((l) => ({ direction: 'sf_to_ac' as const, email: c.job.payload.email, recordId: c.job.payload.recordIds[0] ?? null, acContactId: c.contactId, oldValue: `list ${l.listId}: ${l.previousStatus}`, newValue: `list ${l.listId}: 2`, decision: 'unsubscribe-list', reason: 'R1: Email Opt Out turned true (bulk import)', result: 'unsubscribed', correlation: { job: c.job.id } })), tx);
      });
      await store.jobs.requeue(pushJobKind, c.job, this.deps.clock(), `still active after the bulk import on list(s) ${stillActive.join(', ')}: the single path finishes it`);
    }
    // One transaction for the whole round: thousands of confirmed jobs, one commit.
    let pullQueued = false;
    await store.db.transaction(async (tx) => {
      await intents.clear(confirmed.map(({ c }) => c.job.payload.email), tx);
      await store.unsubscribedLists.rememberMany(confirmed.map(({ c, lists }) => ({ acContactId: c.contactId, email: c.job.payload.email, lists })), tx);
      await store.audit.record(
        confirmed.flatMap(({ c, lists }) =>
          lists.map((l) => ({ direction: 'sf_to_ac' as const, email: c.job.payload.email, recordId: c.job.payload.recordIds[0] ?? null, acContactId: c.contactId, oldValue: `list ${l.listId}: ${l.previousStatus}`, newValue: `list ${l.listId}: 2`, decision: 'unsubscribe-list', reason: 'R1: Email Opt Out turned true (bulk import)', result: 'unsubscribed', correlation: { job: c.job.id } })),
        ),
        tx,
      );
      await store.jobs.completeMany(confirmed.map(({ c }) => c.job.id), tx);
      pullQueued = (await this.deps.observeOwnWrites?.(verified.observed, tx)) === true;
    });
    if (pullQueued) this.deps.onPullWorkQueued?.();
    for (const { c } of confirmed) {
      this.deps.metrics.jobsSucceeded.inc({ kind: pushJobKind.name });
      this.observeLatency(c.job.payload);
    }
    this.deps.logger.info({ batches: report.batches.length, contacts: toImport.length, confirmed: confirmed.length }, 'bulk unsubscribe round done');
    return;
  }

  /**
   * Reads the imported contacts back. For each: the lists now unsubscribed that the import named, and the lists
   * still active or unconfirmed that the person joined before the opt-out (a list joined after it is their newer
   * choice, as on the single path). A read that fails leaves every contact of its batch unverified: they all take
   * the single path rather than be trusted.
   */
  private async verifyImported(imported: { job: ClaimedJob<PushJobPayload>; contactId: string; lists: Record<string, number> }[]) {
    const out: { c: (typeof imported)[number]; stillActive: string[]; unsubscribedLists: string[] }[] = [];
    const observed: AcContactState[] = [];
    for (let i = 0; i < imported.length; i += VERIFY_BATCH) {
      const batch = imported.slice(i, i + VERIFY_BATCH);
      let reads: Map<string, { listId: string; status: number; sdate: string | null }[]>;
      try {
        const answer = await this.deps.ac.getContactsWithLists(batch.map((c) => c.contactId));
        reads = new Map(answer.map((r) => [r.contact.id, r.lists]));
        // A real read of AC after our import: the reverse path's snapshot learns the lists we left (imports fire no
        // webhook), so the R3 the import causes is seen now and a later subscribe is compared with this state.
        observed.push(...answer.map(toAcContactState));
      } catch (error) {
        this.noteVendorFailure(error);
        for (const c of batch) out.push({ c, stillActive: ['(not verified)'], unsubscribedLists: [] });
        continue;
      }
      for (const c of batch) {
        const lists = reads.get(c.contactId);
        if (lists === undefined) {
          // Not in the answer: unverified, so the single path looks again.
          out.push({ c, stillActive: ['(not returned)'], unsubscribedLists: [] });
          continue;
        }
        const optedOutAt = Date.parse(c.job.payload.latestChangedAt);
        // Only an active list with a readable subscribe date after the opt-out is the person's newer choice; an
        // unconfirmed one (status 0) could still be confirmed by a click, so it goes to 2 like on the single path.
        const joinedAfter = (l: { status: number; sdate: string | null }) => l.status === 1 && l.sdate !== null && Date.parse(l.sdate) > optedOutAt;
        const stillActive = lists.filter((l) => (l.status === 0 || l.status === 1) && !joinedAfter(l)).map((l) => l.listId);
        const unsubscribedLists = Object.entries(c.lists)
          .filter(([listId, before]) => (before === 0 || before === 1) && lists.some((l) => l.listId === listId && l.status === 2))
          .map(([listId]) => listId);
        out.push({ c, stillActive, unsubscribedLists });
      }
    }
    return { results: out, observed };
  }

  private observeLatency(p: PushJobPayload): void {
    // A read of unknown time (a resync of an opt-in) is no change and has no latency.
    if (Date.parse(p.latestChangedAt) <= UNKNOWN_AND_OLD.getTime()) return;
    const seconds = (this.deps.clock().getTime() - Date.parse(p.latestChangedAt)) / 1000;
    if (seconds >= 0) this.deps.metrics.pushLatency.observe(seconds);
  }

  /** AC's answer (or silence) moves its circuit: an outage or a refused token opens it, any answer closes it. */
  private noteVendorFailure(error: unknown): void {
    // A 429 is AC pacing us (the budget and Retry-After handle it), not a sign that AC is down.
    if (isThrottle(error)) return;
    const failure = classifyFailure(error);
    if (failure.vendor !== 'activecampaign') return;
    if (failure.failureClass === 'permanent') this.deps.circuit?.succeeded();
    else this.deps.circuit?.failed(failure.failureClass, failure.message);
  }

  private async failJob(job: ClaimedJob<PushJobPayload>, error: unknown, noteVendor = true): Promise<void> {
    if (isThrottle(error)) {
      // AC's "slow down" is neither an outage nor this contact's fault: wait what AC asks and go again, with no
      // attempt used and no growing back-off (found by bench:push: a few hundred 429s on a busy host put thousands
      // of opt-outs into back-off of up to 5 minutes while the account's budget sat unused).
      const runAfter = new Date(this.deps.clock().getTime() + Math.max(error.retryAfterMs, 1000));
      await this.deps.store.jobs.requeue(pushJobKind, job, runAfter, error.message, job.attempts - 1);
      this.deps.logger.info({ email: emailHash(job.payload.email), job: job.id, retryAfterMs: error.retryAfterMs }, 'activecampaign throttled; the job goes again after Retry-After');
      return;
    }
    const failure = classifyFailure(error);
    if (noteVendor) this.noteVendorFailure(error);
    // Only a refusal AC would repeat for this contact goes to the dead letters. An outage, a throttle, a rotated
    // token or our own database (found by the chaos run: a terminated connection once dead-lettered an opt-out)
    // makes an opt-out wait, however long, never die.
    const outcome = await this.deps.store.jobs.fail(pushJobKind, job, failure.message, this.deps.retry, {
      failureClass: failure.failureClass,
      keepsOptOut: job.payload.optOutPending,
      minimumDelayMs: failure.retryAfterMs,
    });
    this.deps.metrics.jobsFailed.inc({ kind: pushJobKind.name });
    if (outcome === 'dead') {
      this.deps.metrics.jobsDead.inc({ kind: pushJobKind.name });
      const why = failure.failureClass === 'permanent' ? 'ActiveCampaign refused this contact for good' : `gave up after ${job.attempts} attempts`;
      await this.deps.store.audit.record([{ direction: 'sf_to_ac', email: job.payload.email, recordId: job.payload.recordIds[0] ?? null, decision: 'dead-letter', reason: `${why} (${failure.failureClass})`, result: failure.message.slice(0, 500) }]);
    }
    this.deps.logger.warn({ email: emailHash(job.payload.email), job: job.id, attempt: job.attempts, outcome, failureClass: failure.failureClass, error: failure.message }, 'activecampaign update failed');
  }
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(lanes);
}

/** AC's 429: the account's rate limit (a 503, which older reports also saw at the limit, may be an outage). */
function isThrottle(error: unknown): error is AcRateLimitedError {
  return error instanceof AcRateLimitedError && error.status === 429;
}
