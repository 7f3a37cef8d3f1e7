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
import type { SalesforceRecordReader } from './salesforce-records';
import type { Metrics } from '../observability/metrics';
import { emailHash } from '../observability/logger';
import { classifyFailure, isRetryableRecordError, type ClassifiedFailure } from './failure-class';
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

export class PullWorker {
  constructor(private readonly deps: PullWorkerDeps) {}

  /** Handles one batch of ready jobs; returns how many it took. */
  async runOnce(limit = BATCH): Promise<number> {
    const { store } = this.deps;
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
    try {
      records = await this.deps.reader.readByEmails(jobs.map((j) => j.payload.email));
      if (this.deps.recordsInScope !== undefined) records = await this.deps.recordsInScope(records);
    } catch (error) {
      const failure = this.noteVendorFailure(error);
      await Promise.all(jobs.map((job) => this.failJob(job, `reading Salesforce records failed: ${messageOf(error)}`, failure)));
      return claimed.length;
    }
    this.deps.circuit?.succeeded();
    const settings = this.deps.settings();
    const customFields = await this.deps.customFields();
    const now = this.deps.clock();
    const byEmail = groupBy(records, (r) => r.email.toLowerCase());
    const ready = await this.waitForTheStream(jobs, byEmail, now);
    const plans = ready.map((job) => ({ job, plan: planSalesforceWrites(job.payload, byEmail.get(job.payload.email) ?? [], settings, { customFields, now }) }));

    const { results, callErrors } = await this.writeAll(plans.flatMap((p) => p.plan.writes));
    const writtenAt = this.deps.clock();
    for (const { job, plan } of plans) {
      const failures = plan.writes
        .map((w) => ({ write: w, result: results.get(w.id) }))
        .filter((r) => r.result === undefined || !r.result.success);
      const audits: AuditEntry[] = plan.decisions.map((d) => {
        const result = results.get(d.recordId);
        const outcome = d.decision === 'skip' ? 'skipped' : result?.success === true ? 'written' : `failed: ${describeSaveErrors(result)}`;
        return {
          direction: 'ac_to_sf',
          email: job.payload.email,
          recordId: d.recordId,
          acContactId: job.payload.acContactId,
          oldValue: d.oldValue,
          newValue: d.newValue,
          decision: d.decision === 'skip' ? 'skip' : 'update-salesforce',
          reason: d.reason,
          result: outcome,
          correlation: { job: job.id, attempt: job.attempts },
        };
      });
      if (plan.decisions.length === 0) {
        audits.push({ direction: 'ac_to_sf', email: job.payload.email, acContactId: job.payload.acContactId, decision: 'skip', reason: `${job.payload.rule}: no Salesforce record has this email`, result: 'nothing to do', correlation: { job: job.id } });
      }
      const written = plan.writes.filter((w) => results.get(w.id)?.success === true);
      // The Salesforce writes have happened: a dropped database connection must not lose their audit (a retry of the
      // job would find nothing left to do and audit a skip). Found by the chaos run's pg_terminate_backend.
      await outlivingDroppedConnections(() => store.db.transaction(async (tx) => {
        await store.audit.record(audits, tx);
        await store.links.recordObservations(
          written
            .filter((w) => settings.optOutField in w.fields)
            // The opt-out changed when the person acted in AC, not when we wrote it: R5 compares the next subscribe
            // with this moment.
            .map((w) => ({ recordId: w.id, objectName: w.objectName, email: job.payload.email, optedOut: w.fields[settings.optOutField] === true, changedAt: new Date(job.payload.acEventAt), writtenAt })),
          tx,
        );
        if (failures.length === 0) await store.jobs.complete(job.id, tx);
      }));
      if (failures.length > 0 && failures.every((f) => f.result?.errors[0]?.statusCode === MODIFIED_SINCE_READ)) {
        // Someone changed the record between our read and our write: decide again on what Salesforce holds now
        // (not a failure, so no attempt is used; the change's own event is on its way).
        await store.jobs.requeue(pullJobKind, job, new Date(this.deps.clock().getTime() + STREAM_WAIT_RETRY_MS), 'a record changed in Salesforce after it was read', job.attempts - 1);
        this.deps.logger.info({ email: emailHash(job.payload.email), job: job.id, records: failures.map((f) => f.write.id) }, 'salesforce record changed after it was read; deciding again');
      } else if (failures.length === 0) {
        this.deps.metrics.jobsSucceeded.inc({ kind: pullJobKind.name });
        this.deps.logger.info({ email: emailHash(job.payload.email), rule: job.payload.rule, written: written.length, job: job.id }, 'salesforce records brought in line');
      } else {
        await this.failJob(job, failures.map((f) => `${f.write.id}: ${describeSaveErrors(f.result)}`).join('; '), this.classifyWriteFailures(failures, callErrors));
      }
    }
    // Writes of the opt-out field were stamped with their job (recordObservations above, which may create the row);
    // this one statement for the round covers every write, including those of sync-state fields only. Until the echo of our write arrives on the stream, the stamp
    // explains the records' new LastModifiedDate; lost in a crash, a later decision waits at most STREAM_CATCH_UP_MS.
    const ownWrites = [...results].filter(([, r]) => r.success).map(([id]) => id);
    await store.links.recordOwnWrites(ownWrites, writtenAt);
    return claimed.length;
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

  private async writeAll(writes: PlannedWrite[]): Promise<{ results: Map<string, SaveResult>; callErrors: Map<string, unknown> }> {
    const results = new Map<string, SaveResult>();
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
        callErrors.set(write.id, error);
        this.noteVendorFailure(error);
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
        for (const w of batch) callErrors.set(w.id, error);
        this.noteVendorFailure(error);
        this.deps.logger.warn({ err: messageOf(error), objectName, records: batch.length }, 'salesforce collections update failed');
      }
    }
    if (writes.length > 0 && callErrors.size === 0) this.deps.circuit?.succeeded();
    return { results, callErrors };
  }

  /**
   * A job's failed writes: a call that failed as a whole is the vendor's state (outage, session, limit, the org's
   * configuration) and waits; a record Salesforce refused for a lock is retried; any other record error is that
   * record's own and permanent.
   */
  private classifyWriteFailures(failures: { write: PlannedWrite; result: SaveResult | undefined }[], callErrors: Map<string, unknown>): ClassifiedFailure {
    const callError = failures.map((f) => callErrors.get(f.write.id)).find((e) => e !== undefined);
    if (callError !== undefined || failures.some((f) => f.result === undefined)) return classifyFailure(callError ?? new Error('no result for a written record'));
    const codes = failures.flatMap((f) => f.result?.errors.map((e) => e.statusCode) ?? []);
    const message = failures.map((f) => `${f.write.id}: ${describeSaveErrors(f.result)}`).join('; ');
    return { failureClass: codes.every(isRetryableRecordError) ? 'transient' : 'permanent', vendor: 'salesforce', retryAfterMs: 0, message };
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

function describeSaveErrors(result: SaveResult | undefined): string {
  if (result === undefined) return 'no result (the call failed)';
  return result.errors.map((e) => `${e.statusCode}: ${e.message}`).join(', ') || 'unknown error';
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
