// Applies queued ActiveCampaign decisions to Salesforce: one SOQL per chunk of emails, writes batched through
// sObject Collections (200 records a call) across many emails, so 10,000 opt-outs cost about 50 write calls.
import type { Logger } from 'pino';
import type { Store } from '../store';
import type { AuditEntry } from '../store/audit-log';
import type { ClaimedJob, RetryPolicy } from '../store/job-queue';
import type { Clock } from '../store/clock';
import type { SalesforceRestClient, SaveResult } from '../salesforce/salesforce-rest';
import { pullJobKind, type PullJobPayload } from '../sync/pull-job';
import { planSalesforceWrites, type PlannedWrite, type SalesforceRecordState } from '../sync/salesforce-write-plan';
import { awaitingStream } from '../sync/opt-out-recency';
import type { Settings } from '../sync/settings';
import { PartialRecordRead, type ConvertedLead, type SalesforceRecordReader } from './salesforce-records';
import { SalesforceApiError, SalesforceTimeoutError, emailParts, redactSalesforceMessage, saveErrorClass } from '../salesforce/salesforce-errors';
import type { Metrics } from '../observability/metrics';
import { emailHash } from '../observability/logger';
import { classifyFailure, type ClassifiedFailure } from './failure-class';
import type { VendorCircuit } from './vendor-circuit';

export interface PullWorkerDeps {
  store: Store;
  rest: Pick<SalesforceRestClient, 'updateRecords' | 'updateRecordUnlessModifiedSince'>;
  reader: SalesforceRecordReader;
  settings: () => Settings;
  customFields: () => Promise<boolean>;
  /** Only records in these Campaigns are written (R7), when the setting names any. */
  recordsInScope?: (records: SalesforceRecordState[]) => Promise<SalesforceRecordState[]>;
  /** Only AC contacts carrying the scope tag count (R7), when the setting names one. */
  acContactInScope?: (acContactId: string) => Promise<boolean>;
  /** How long a claimed job stays locked: after a crash its jobs wait this long before another instance takes them. */
  leaseMs?: number;
  /**
   * While jobs keep arriving within this time of each other, write only full Collections calls (200 records) and
   * keep the remainder for the next ones: a burst of AC changes arrives over seconds to minutes (paced by AC's
   * 5 requests/s), and writing it in full batches keeps Salesforce API use low.
   */
  lingerMs?: number;
  retry: RetryPolicy;
  /** Salesforce's circuit: while it is open, one job at a time probes and the rest wait without using attempts. */
  circuit?: VendorCircuit;
  /**
   * How long Salesforce writes pause after the org's daily API limit refused a call (REQUEST_LIMIT_EXCEEDED): the
   * allocation is a rolling 24 hours, so room returns as old calls age out. The jobs stay queued meanwhile.
   */
  limitPauseMs?: number;
  /**
   * The names of records Salesforce refused (by 15-character id), read only when a write failed: a trigger's or
   * Flow's message may name the person, and those names are stripped before an audit, a dead letter or a log.
   */
  recordNames?: (records: { objectName: 'Contact' | 'Lead'; id: string }[]) => Promise<Map<string, string[]>>;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
}

/** Jobs taken per round: a multiple of 200 so that full Collections calls carry the load. */
const BATCH = 2000;
/** Records per sObject Collections call (Salesforce's maximum). */
const COLLECTION_SIZE = 200;
/** A partial call waits at most this many lingers for a burst to fill it. */
const MAX_LINGER_FACTOR = 6;
const LEASE_MS = 5 * 60_000;
/** How often a job waiting for the stream looks again. */
const STREAM_WAIT_RETRY_MS = 1_000;
/** The result of a conditional write Salesforce refused (412): the record changed after we read it. */
const MODIFIED_SINCE_READ = 'MODIFIED_SINCE_READ';
const LIMIT_PAUSE_MS = 5 * 60_000;

/** The org refused a call because its daily API allocation is used up. */
function isRequestLimit(error: unknown): boolean {
  return error instanceof SalesforceApiError && error.errorCode === 'REQUEST_LIMIT_EXCEEDED';
}

export class PullWorker {
  private pausedUntil: Date | null = null;

  constructor(private readonly deps: PullWorkerDeps) {}

  /** While the org's daily API limit is reached: until when Salesforce writes wait (for the status page). */
  salesforcePause(): { until: Date; reason: string } | null {
    if (this.pausedUntil === null || this.pausedUntil.getTime() <= this.deps.clock().getTime()) return null;
    return { until: this.pausedUntil, reason: "the Salesforce org's daily API request limit is reached (REQUEST_LIMIT_EXCEEDED)" };
  }

  /** Handles one batch of ready jobs; returns how many it took. */
  async runOnce(limit = BATCH): Promise<number> {
    const { store } = this.deps;
    if (this.salesforcePause() !== null) return 0;
    const gate = this.deps.circuit?.gate() ?? 'closed';
    if (gate === 'open') return 0;
    if (gate === 'probe') {
      // Salesforce has been failing: one job tells whether it answers again.
      try {
        const probe = await store.jobs.claim(pullJobKind, 1, this.deps.leaseMs ?? LEASE_MS);
        if (probe.length === 0) return 0;
        try {
          return await this.handle(probe);
        } finally {
          store.jobs.letGo(probe);
        }
      } finally {
        this.deps.circuit?.probeUnused();
      }
    }
    const lingerMs = this.deps.lingerMs ?? 0;
    if (lingerMs > 0) {
      const ready = await store.jobs.readySummary(pullJobKind.name);
      const now = this.deps.clock().getTime();
      const sinceNewest = ready.newestQueuedAt === null ? Infinity : now - ready.newestQueuedAt.getTime();
      const sinceOldest = ready.oldestQueuedAt === null ? 0 : now - ready.oldestQueuedAt.getTime();
      // A burst is still arriving while jobs keep coming within the linger: take only whole Collections calls and
      // let the remainder wait for the jobs that will fill its call. It goes out as it is once the burst has been
      // quiet for the linger, or once its oldest job has waited MAX_LINGER_FACTOR lingers (a steady trickle).
      const burstGoesOn = sinceNewest < lingerMs && sinceOldest < lingerMs * MAX_LINGER_FACTOR;
      if (ready.count > 0 && burstGoesOn) {
        const wholeCalls = Math.floor(ready.count / COLLECTION_SIZE) * COLLECTION_SIZE;
        if (wholeCalls === 0) return 0;
        limit = Math.min(limit, wholeCalls);
      }
    }
    const claimed = await store.jobs.claim(pullJobKind, limit, this.deps.leaseMs ?? LEASE_MS);
    if (claimed.length === 0) return 0;
    try {
      return await this.handle(claimed);
    } finally {
      // Jobs left without an outcome (the round failed) return to the queue when their leases run out.
      store.jobs.letGo(claimed);
    }
  }

  private async handle(claimed: ClaimedJob<PullJobPayload>[]): Promise<number> {
    const { store } = this.deps;
    const jobs = await this.dropOutOfScope(claimed);
    if (jobs.length === 0) return claimed.length;
    let records: SalesforceRecordState[];
    // One object that cannot be read (a field hidden on Contact only) must not hold back the other object's records of
    // the same emails: those are written, and the jobs go round again for the rest (never completed half-read).
    let partial: PartialRecordRead | null = null;
    try {
      try {
        records = await this.deps.reader.readByEmails(jobs.map((j) => j.payload.email));
      } catch (error) {
        if (!(error instanceof PartialRecordRead) || isRequestLimit(error.firstError)) throw error instanceof PartialRecordRead ? error.firstError : error;
        partial = error;
        records = error.records;
      }
      if (this.deps.recordsInScope !== undefined) records = await this.deps.recordsInScope(records);
    } catch (error) {
      if (isRequestLimit(error)) {
        await this.pauseForTheLimit(jobs);
        return claimed.length;
      }
      const failure = this.noteVendorFailure(error);
      await Promise.all(jobs.map((job) => this.failJob(job, `reading Salesforce records failed: ${messageOf(error)}`, failure)));
      return claimed.length;
    }
    if (partial === null) this.deps.circuit?.succeeded();
    const partialFailure = partial === null ? null : this.noteVendorFailure(partial.firstError);
    const settings = this.deps.settings();
    const customFields = await this.deps.customFields();
    const now = this.deps.clock();
    const byEmail = groupBy(records, (r) => r.email.toLowerCase());
    const ready = await this.waitForTheStream(jobs, byEmail, now);
    const plans = ready.map((job) => ({ job, plan: planSalesforceWrites(job.payload, byEmail.get(job.payload.email) ?? [], settings, { customFields, now }) }));

    // Read before the writes: a Lead converted while we write is audited once, from its refused write.
    const converted = groupBy(await this.convertedLeads(ready), (lead) => lead.email);
    const { results, callErrors, limitReached } = await this.writeAll(plans.flatMap((p) => p.plan.writes));
    const writtenAt = this.deps.clock();
    const names = await this.namesOfRefused(plans.flatMap((p) => p.plan.writes).filter((w) => results.get(w.id)?.success === false));
    /** A record's errors in words, stripped of what is known of the person. */
    const errorsOf = (email: string, recordId: string) => describeSaveErrors(results.get(recordId), [...emailParts(email), ...(names.get(recordId.slice(0, 15)) ?? [])]);
    /**
     * A write whose call timed out: Salesforce had the request and may have committed it after we stopped waiting
     * (slow triggers and flows). Saying "failed" would be wrong as often as right; the job goes again and its next
     * read tells (found by the chaos run: a write happened that the audit called failed).
     */
    const unanswered = (recordId: string): string | null => {
      const error = callErrors.get(recordId);
      return error instanceof SalesforceTimeoutError ? `outcome unknown: ${error.message}; Salesforce may have applied it, the job goes again` : null;
    };
    for (const { job, plan } of plans) {
      // Each record's failure is judged alone: one the org refuses for good (a validation rule, a converted Lead)
      // never holds back the other records of the email, and only retryable ones send the job round again.
      const outcomes = new Map(plan.writes.map((w) => [w.id, writeOutcome(results.get(w.id))]));
      const audits: AuditEntry[] = plan.decisions.map((d) => {
        const result = results.get(d.recordId);
        const outcome = outcomes.get(d.recordId);
        const refusedAsConverted = outcome === 'converted';
        return {
          direction: 'ac_to_sf',
          email: job.payload.email,
          recordId: d.recordId,
          acContactId: job.payload.acContactId,
          oldValue: d.oldValue,
          newValue: d.newValue,
          decision: d.decision === 'skip' || refusedAsConverted ? 'skip' : 'update-salesforce',
          reason: refusedAsConverted ? `${job.payload.rule}: the Lead was converted after it was read; Salesforce refuses updates to converted leads` : d.reason,
          result: d.decision === 'skip' ? 'skipped' : refusedAsConverted ? `skipped: ${errorsOf(job.payload.email, d.recordId)}` : result?.success === true ? 'written' : unanswered(d.recordId) ?? `failed: ${errorsOf(job.payload.email, d.recordId)}`,
          correlation: { job: job.id, attempt: job.attempts },
        };
      });
      for (const lead of (converted.get(job.payload.email) ?? []).filter((l) => !plan.decisions.some((d) => d.recordId === l.id))) {
        audits.push({ direction: 'ac_to_sf', email: job.payload.email, recordId: lead.id, acContactId: job.payload.acContactId, decision: 'skip', reason: `${job.payload.rule}: the Lead was converted; Salesforce refuses updates to converted leads (its Contact carries the opt-out)`, result: 'skipped: converted lead', correlation: { job: job.id } });
      }
      if (plan.decisions.length === 0 && !converted.has(job.payload.email)) {
        audits.push({ direction: 'ac_to_sf', email: job.payload.email, acContactId: job.payload.acContactId, decision: 'skip', reason: `${job.payload.rule}: no Salesforce record has this email`, result: 'nothing to do', correlation: { job: job.id } });
      }
      const refused = plan.writes.filter((w) => outcomes.get(w.id) === 'permanent');
      for (const w of refused) {
        audits.push({ direction: 'ac_to_sf', email: job.payload.email, recordId: w.id, acContactId: job.payload.acContactId, decision: 'dead-letter', reason: `${job.payload.rule}: Salesforce refuses this ${w.objectName} until the org changes; the other records of the email went on`, result: errorsOf(job.payload.email, w.id), correlation: { job: job.id } });
      }
      const retryable = plan.writes.filter((w) => outcomes.get(w.id) === 'transient' || outcomes.get(w.id) === 'modified');
      const written = plan.writes.filter((w) => outcomes.get(w.id) === 'written');
      const deadLettered: string[] = [];
      // The Salesforce writes have happened: a dropped database connection must not lose their audit (a retry of the
      // job would find nothing left to do and audit a skip). Found by the chaos run's pg_terminate_backend.
      await outlivingDroppedConnections(() => store.db.transaction(async (tx) => {
        deadLettered.length = 0;
        await store.audit.record(audits, tx);
        await store.links.recordObservations(
          written
            .filter((w) => settings.optOutField in w.fields)
            // The opt-out changed when the person acted in AC, not when we wrote it: R5 compares the next subscribe
            // with this moment.
            .map((w) => ({ recordId: w.id, objectName: w.objectName, email: job.payload.email, optedOut: w.fields[settings.optOutField] === true, changedAt: new Date(job.payload.acEventAt), writtenAt })),
          tx,
        );
        for (const w of refused) {
          if (await store.jobs.deadLetterPart(tx, pullJobKind, job, `permanent: ${w.id}: ${errorsOf(job.payload.email, w.id)}`)) deadLettered.push(w.id);
        }
        if (retryable.length === 0 && partial === null) await store.jobs.complete(job.id, tx);
      }));
      for (const id of deadLettered) {
        this.deps.metrics.jobsDead.inc({ kind: pullJobKind.name });
        this.deps.logger.warn({ email: emailHash(job.payload.email), job: job.id, record: id, error: errorsOf(job.payload.email, id) }, 'salesforce refuses one record; dead-lettered it alone');
      }
      if (retryable.length > 0 && limitReached && retryable.every((w) => results.get(w.id) === undefined)) {
        // The org's daily API limit refused the call: the job waits for room without using an attempt.
        await this.pauseForTheLimit([job]);
      } else if (retryable.length > 0 && retryable.every((w) => outcomes.get(w.id) === 'modified')) {
        // Someone changed the record between our read and our write: decide again on what Salesforce holds now
        // (not a failure, so no attempt is used; the change's own event is on its way).
        await store.jobs.requeue(pullJobKind, job, new Date(this.deps.clock().getTime() + STREAM_WAIT_RETRY_MS), 'a record changed in Salesforce after it was read', job.attempts - 1);
        this.deps.logger.info({ email: emailHash(job.payload.email), job: job.id, records: retryable.map((w) => w.id) }, 'salesforce record changed after it was read; deciding again');
      } else if (retryable.length === 0 && partial !== null && partialFailure !== null) {
        await this.failJob(job, `the other records were brought in line; ${partial.message}`, partialFailure);
      } else if (retryable.length === 0) {
        this.deps.metrics.jobsSucceeded.inc({ kind: pullJobKind.name });
        this.deps.logger.info({ email: emailHash(job.payload.email), rule: job.payload.rule, written: written.length, refused: refused.length, job: job.id }, 'salesforce records brought in line');
      } else {
        await this.failJob(job, retryable.map((w) => `${w.id}: ${errorsOf(job.payload.email, w.id)}`).join('; '), this.classifyRetryableWrites(retryable, callErrors));
      }
    }
    // Writes of the opt-out field were stamped with their job (recordObservations above, which may create the row);
    // this one statement for the round covers every write, including those of sync-state fields only. Until the echo of our write arrives on the stream, the stamp
    // explains the records' new LastModifiedDate; lost in a crash, a later decision waits at most STREAM_CATCH_UP_MS.
    const ownWrites = [...results].filter(([, r]) => r.success).map(([id]) => id);
    await store.links.recordOwnWrites(ownWrites, writtenAt);
    return claimed.length;
  }

  /** Names of the refused records; a failed lookup leaves only the email's parts to strip (and is logged). */
  private async namesOfRefused(writes: PlannedWrite[]): Promise<Map<string, string[]>> {
    const read = this.deps.recordNames;
    if (read === undefined || writes.length === 0) return new Map();
    try {
      return await read(writes.map((w) => ({ objectName: w.objectName, id: w.id })));
    } catch (error) {
      this.deps.logger.warn({ err: messageOf(error) }, 'reading the names of refused records failed; their messages are stripped of emails, numbers and quotes only');
      return new Map();
    }
  }

  /** Converted Leads of the jobs' emails, to audit them as skipped; a failed lookup only loses that audit. */
  private async convertedLeads(jobs: ClaimedJob<PullJobPayload>[]): Promise<ConvertedLead[]> {
    const read = this.deps.reader.readConvertedLeads;
    if (read === undefined || jobs.length === 0) return [];
    try {
      return await read.call(this.deps.reader, jobs.map((j) => j.payload.email));
    } catch (error) {
      this.deps.logger.warn({ err: messageOf(error) }, 'looking up converted leads failed');
      return [];
    }
  }

  /** R7 tag scope: a contact without the tag is none of our business; the decision is audited and the job ends. */
  private async dropOutOfScope(jobs: ClaimedJob<PullJobPayload>[]): Promise<ClaimedJob<PullJobPayload>[]> {
    const check = this.deps.acContactInScope;
    if (check === undefined || this.deps.settings().scopeAcTag === null) return jobs;
    const kept: ClaimedJob<PullJobPayload>[] = [];
    for (const job of jobs) {
      let inScope: boolean;
      try {
        inScope = await check(job.payload.acContactId);
      } catch (error) {
        await this.failJob(job, `checking the scope tag failed: ${messageOf(error)}`, classifyFailure(error));
        continue;
      }
      if (inScope) {
        kept.push(job);
        continue;
      }
      await this.deps.store.db.transaction(async (tx) => {
        await this.deps.store.audit.record([{ direction: 'ac_to_sf', email: job.payload.email, acContactId: job.payload.acContactId, decision: 'skip', reason: `R7: the contact does not carry the scope tag`, result: 'out of scope' }], tx);
        await this.deps.store.jobs.complete(job.id, tx);
      });
    }
    return kept;
  }

  /**
   * A record modified after everything we know of it may carry an opt-out change the stream has not delivered yet;
   * deciding now would compare the person's AC action with an older change (sync/opt-out-recency.ts). Such jobs
   * go back to the queue, without using an attempt, until the stream catches up or STREAM_CATCH_UP_MS have passed.
   */
  private async waitForTheStream(jobs: ClaimedJob<PullJobPayload>[], byEmail: Map<string, SalesforceRecordState[]>, now: Date): Promise<ClaimedJob<PullJobPayload>[]> {
    const ready: ClaimedJob<PullJobPayload>[] = [];
    for (const job of jobs) {
      const waitingFor = (byEmail.get(job.payload.email) ?? []).filter((r) => awaitingStream(r.unseenChangeAt ?? null, now));
      if (waitingFor.length === 0) {
        ready.push(job);
        continue;
      }
      const reason = `waiting for the stream to deliver a change of ${waitingFor.map((r) => `${r.id} (modified ${r.unseenChangeAt?.toISOString()})`).join(', ')}`;
      await this.deps.store.jobs.requeue(pullJobKind, job, new Date(now.getTime() + STREAM_WAIT_RETRY_MS), reason, job.attempts - 1);
      this.deps.logger.info({ email: emailHash(job.payload.email), job: job.id, records: waitingFor.map((r) => r.id) }, 'salesforce decision waits for the stream');
    }
    return ready;
  }

  /** Salesforce writes wait for the org's API allocation to have room; the jobs go back to the queue unspent. */
  private async pauseForTheLimit(jobs: ClaimedJob<PullJobPayload>[]): Promise<void> {
    const until = new Date(this.deps.clock().getTime() + (this.deps.limitPauseMs ?? LIMIT_PAUSE_MS));
    if (this.pausedUntil === null || this.pausedUntil < until) this.pausedUntil = until;
    for (const job of jobs) {
      await this.deps.store.jobs.requeue(pullJobKind, job, until, "Salesforce's daily API request limit is reached; waiting for room", job.attempts - 1);
    }
    this.deps.logger.warn({ jobs: jobs.length, until: until.toISOString() }, 'salesforce daily API request limit reached; salesforce writes pause');
  }

  private async writeAll(writes: PlannedWrite[]): Promise<{ results: Map<string, SaveResult>; callErrors: Map<string, unknown>; limitReached: boolean }> {
    const results = new Map<string, SaveResult>();
    let limitReached = false;
    // Calls that failed as a whole, by the record ids they carried: their failure class decides the jobs' fate.
    const callErrors = new Map<string, unknown>();
    // Conditional writes (R5's opt-ins) go one record a call: sObject Collections takes no condition. They are rare:
    // a person subscribing again in ActiveCampaign after opting out.
    for (const write of writes) {
      if (write.unlessModifiedSince === undefined) continue;
      try {
        const outcome = await this.deps.rest.updateRecordUnlessModifiedSince(write.objectName, write.id, write.fields, write.unlessModifiedSince);
        results.set(
          write.id,
          outcome === 'updated'
            ? { id: write.id, success: true, errors: [] }
            : { id: write.id, success: false, errors: [{ statusCode: MODIFIED_SINCE_READ, message: `modified in Salesforce after ${write.unlessModifiedSince.toISOString()}`, fields: [] }] },
        );
      } catch (error) {
        const refusal = recordRefusal(error);
        if (refusal !== null) {
          // One record a call: Salesforce's refusal of the call is this record's (a validation rule, a lock, a
          // deleted record), judged alone like a Collections result; the call itself reached the org.
          results.set(write.id, { id: write.id, success: false, errors: [refusal] });
          continue;
        }
        limitReached ||= isRequestLimit(error);
        callErrors.set(write.id, error);
        if (!isRequestLimit(error)) this.noteVendorFailure(error);
        this.deps.logger.warn({ err: messageOf(error), objectName: write.objectName }, 'salesforce conditional update failed');
      }
    }
    for (const objectName of ['Contact', 'Lead'] as const) {
      const batch = writes.filter((w) => w.objectName === objectName && w.unlessModifiedSince === undefined);
      if (batch.length === 0) continue;
      try {
        const saved = await this.deps.rest.updateRecords(objectName, batch.map((w) => ({ Id: w.id, ...w.fields })));
        batch.forEach((w, i) => {
          const result = saved[i];
          if (result !== undefined) results.set(w.id, result);
        });
      } catch (error) {
        limitReached ||= isRequestLimit(error);
        for (const w of batch) callErrors.set(w.id, error);
        if (!isRequestLimit(error)) this.noteVendorFailure(error);
        this.deps.logger.warn({ err: messageOf(error), objectName, records: batch.length }, 'salesforce collections update failed');
      }
    }
    if (writes.length > 0 && callErrors.size === 0) this.deps.circuit?.succeeded();
    return { results, callErrors, limitReached };
  }

  /**
   * The class of a job's retryable writes (records refused for good were dead-lettered alone): a call that failed as
   * a whole is the vendor's state (outage, session, the org's configuration) and waits; a record Salesforce refused
   * for a lock is transient.
   */
  private classifyRetryableWrites(retryable: PlannedWrite[], callErrors: Map<string, unknown>): ClassifiedFailure {
    const callError = retryable.map((w) => callErrors.get(w.id)).find((e) => e !== undefined);
    if (callError !== undefined) return classifyFailure(callError);
    return { failureClass: 'transient', vendor: 'salesforce', retryAfterMs: 0, message: 'a record is locked or was not written' };
  }

  /** Salesforce's answer (or silence) moves its circuit; returns the failure's class. */
  private noteVendorFailure(error: unknown): ClassifiedFailure {
    const failure = classifyFailure(error);
    if (failure.vendor === 'salesforce' && failure.failureClass !== 'permanent') this.deps.circuit?.failed(failure.failureClass, failure.message);
    return failure;
  }

  private async failJob(job: ClaimedJob<PullJobPayload>, error: string, failure: ClassifiedFailure): Promise<void> {
    // An opt-out for Salesforce (R3, R4) never dies of an outage, a session or a limit; an opt-in (R5) may, after
    // the retry window, and reconciliation looks at it again.
    const outcome = await this.deps.store.jobs.fail(pullJobKind, job, error, this.deps.retry, { failureClass: failure.failureClass, keepsOptOut: job.payload.optOut, minimumDelayMs: failure.retryAfterMs });
    this.deps.metrics.jobsFailed.inc({ kind: pullJobKind.name });
    if (outcome === 'dead') {
      this.deps.metrics.jobsDead.inc({ kind: pullJobKind.name });
      await this.deps.store.audit.record([
        { direction: 'ac_to_sf', email: job.payload.email, acContactId: job.payload.acContactId, decision: 'dead-letter', reason: `${job.payload.rule}: gave up after ${job.attempts} attempts (${failure.failureClass})`, result: error.slice(0, 500) },
      ]);
    }
    this.deps.logger.warn({ email: emailHash(job.payload.email), job: job.id, attempt: job.attempts, outcome, failureClass: failure.failureClass, error }, 'salesforce update failed');
  }
}

/** Runs a transaction again (on a new connection) when it fails, twice at most, a moment apart. */
async function outlivingDroppedConnections<T>(transaction: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/** Salesforce's code and message of a record's failure, its message stripped of what may identify the person. */
function describeSaveErrors(result: SaveResult | undefined, personal: readonly string[]): string {
  if (result === undefined) return 'no result (the call failed)';
  return result.errors.map((e) => `${e.statusCode}: ${redactSalesforceMessage(e.message, 300, personal)}`).join(', ') || 'unknown error';
}

type WriteOutcome = 'written' | 'modified' | 'converted' | 'transient' | 'permanent';

/** One record's fate: a failed call and a row lock are tried again; a converted Lead is skipped; the rest is for good. */
function writeOutcome(result: SaveResult | undefined): WriteOutcome {
  if (result === undefined) return 'transient';
  if (result.success) return 'written';
  const codes = result.errors.map((e) => e.statusCode);
  if (codes.includes(MODIFIED_SINCE_READ)) return 'modified';
  if (codes.includes('CANNOT_UPDATE_CONVERTED_LEAD')) return 'converted';
  // No error listed at all is not something to give up on.
  if (codes.length === 0 || codes.some((code) => saveErrorClass(code) !== 'permanent')) return 'transient';
  return 'permanent';
}

/**
 * The record-level refusal inside an sObject Rows error (400 with an error code, or 404 for a record gone since it
 * was read): what Collections would have put in that record's SaveResult, judged by its code the same way. null
 * for what is the call's or the org's (401 session, 403 limit or access, 5xx).
 */
function recordRefusal(error: unknown): SaveResult['errors'][number] | null {
  if (!(error instanceof SalesforceApiError) || (error.httpStatus !== 400 && error.httpStatus !== 404)) return null;
  return { statusCode: error.errorCode, message: error.apiMessage, fields: [...error.fields] };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list === undefined) map.set(k, [item]);
    else list.push(item);
  }
  return map;
}
