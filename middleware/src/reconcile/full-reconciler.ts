// The anti-entropy pass ("anything can be lost, so reconcile"): compares every in-scope Salesforce record's opt-out
// (Contact, and Lead not converted) with ActiveCampaign's list statuses, both directions, through the same rules as
// the live paths (drift-plan.ts), and queues each fix as an ordinary job, so that the workers apply it with their
// retries, dead letters and audit. Every queued fix is audited with the reason "reconciliation". Dead letters are
// re-judged against what the pass read. A dry run reads and reports, and changes nothing.
//
// Salesforce is read first and whole (Bulk API 2.0 query jobs: a few API calls for the org, not one per 2,000 rows)
// into the store (reconcile_sf_records: 100,000 records do not fit an 80 MB heap); ActiveCampaign is then read in pages of 100 contacts with their lists,
// through the lowest lane of the account's request budget (live opt-outs, then the poller and webhook reads, go
// first), and each page is judged and its fixes queued as it arrives.
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Store } from '../store';
import type { Clock } from '../store/clock';
import type { ActiveCampaignClient, ContactWithLists } from '../activecampaign/activecampaign-client';
import type { SalesforceRestClient } from '../salesforce/salesforce-rest';
import type { OptOutChange } from '../salesforce/change-normaliser';
import type { SalesforceIntake } from '../workers/salesforce-intake';
import { toAcContactState } from '../workers/ac-contact-state';
import { classifyFailure } from '../workers/failure-class';
import { normaliseEmail } from '../sync/opt-out-change';
import { pullJobKind } from '../sync/pull-job';
import { pushJobKind } from '../sync/push-job';
import type { Settings } from '../sync/settings';
import type { AuditEntry } from '../store/audit-log';
import { planDrift, type Drift, type SalesforceRecordRead } from './drift-plan';
import type { ReconcileProgress, ReconcileReport } from './reconcile-report';

export const RECONCILIATION_REASON = 'reconciliation';

export type { ReconcileProgress, ReconcileReport } from './reconcile-report';

export interface SalesforceSnapshotReader {
  /** Every record of the object matching `where`, handed over in sets. */
  readAll(objectName: 'Contact' | 'Lead', fields: string[], where: string | null, onRows: (rows: Record<string, unknown>[]) => Promise<void> | void): Promise<number>;
}

/** Result rows per Bulk API 2.0 download: a set of 10,000 is about 1 MB of CSV, small enough for the heap. */
const BULK_SET_RECORDS = 10_000;

/** Reads through Bulk API 2.0 query jobs; values come as CSV text. */
export function bulkSnapshotReader(rest: Pick<SalesforceRestClient, 'bulkQuery'>, options: { pollMs?: number } = {}): SalesforceSnapshotReader {
  return {
    readAll: (objectName, fields, where, onRows) => rest.bulkQuery(`SELECT ${fields.join(', ')} FROM ${objectName}${where === null ? '' : ` WHERE ${where}`}`, onRows, { pollMs: options.pollMs ?? 2000, maxRecords: BULK_SET_RECORDS }),
  };
}

export interface FullReconcilerDeps {
  store: Store;
  salesforce: SalesforceSnapshotReader;
  /** A client on the budget's lowest lane: live opt-outs go first. */
  ac: Pick<ActiveCampaignClient, 'listAllContactsPage'>;
  intake: Pick<SalesforceIntake, 'queue'>;
  settings: () => Settings;
  /** R7: Salesforce records in a scoped Campaign, and AC contacts with the scope tag; absent = everything in scope. */
  recordsInScope?: (recordIds: string[]) => Promise<Set<string>>;
  acContactInScope?: (acContactId: string) => Promise<boolean>;
  clock: Clock;
  logger: Logger;
  onQueued?: (direction: Drift['direction']) => void;
  onReport?: (report: ReconcileReport) => void;
  /** Waits between attempts of a failed AC page (tests pass a fast one). */
  sleep?: (ms: number) => Promise<void>;
}

const sfRow = z.object({ record_id: z.string(), email_norm: z.string(), object_name: z.enum(['Contact', 'Lead']), opted_out: z.boolean(), last_modified: z.coerce.date() });

const SAMPLE_SIZE = 20;
/** Attempts per AC page for transient failures (back-off doubling from 0.5 s, at most 30 s, or AC's Retry-After). */
const PAGE_ATTEMPTS = 8;
/** Salesforce rows per INSERT (one statement per thousand: PGlite costs about a millisecond a statement). */
const SF_INSERT_BATCH = 1000;
/** AC fixes are queued in groups of at least one bulk import (250 contacts), see pass(). */
const PUSH_FLUSH = 250;
const truthy = (v: unknown) => v === true || v === 'true';

export class FullReconciler {
  private running: Promise<ReconcileReport> | null = null;

  constructor(private readonly deps: FullReconcilerDeps) {}

  private progress: ReconcileProgress | null = null;
  private last: ReconcileReport | null = null;
  private lastError: string | null = null;

  /** What the admin API shows: whether a pass runs, how far it is, and the last finished pass. */
  state(): { running: boolean; progress: ReconcileProgress | null; last: ReconcileReport | null; lastError: string | null } {
    return { running: this.running !== null, progress: this.running === null ? null : this.progress, last: this.last, lastError: this.lastError };
  }

  private stopping = false;

  /**
   * Ends a running pass at its next page (Salesforce or AC) and waits for it: the middleware must not close its
   * database under a pass that is still writing. Fixes already queued stay queued; the next pass finds the rest.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
  }

  /**
   * One pass per org: instances share the database, and two passes would each read every AC contact with the
   * account's budget. A pass holds this lease (renewed at every page); an admin's request on another instance is
   * refused while it is held.
   */
  private static readonly LEASE = 'full-reconciliation';
  private static readonly LEASE_TTL_MS = 120_000;

  /** Whether another instance is running a pass now. */
  async runningElsewhere(): Promise<boolean> {
    const holder = await this.deps.store.leases.holderOf(FullReconciler.LEASE);
    return holder !== null && holder !== this.deps.store.leases.self;
  }

  private async holdLease(): Promise<void> {
    if (!(await this.deps.store.leases.acquire(FullReconciler.LEASE, FullReconciler.LEASE_TTL_MS))) throw new Error('a full reconciliation is running on another instance');
  }

  private checkStopping(): void {
    if (this.stopping) throw new Error('full reconciliation stopped: the middleware is shutting down');
  }

  /** One pass at a time: a second request while one runs gets that run's report. */
  run(options: { dryRun: boolean; onProgress?: (p: ReconcileProgress) => void }): Promise<ReconcileReport> {
    if (this.running !== null) return this.running;
    if (this.stopping) return Promise.reject(new Error('full reconciliation stopped: the middleware is shutting down'));
    this.progress = { phase: 'salesforce', done: 0, total: null };
    const run = this.pass({
      dryRun: options.dryRun,
      onProgress: (p) => {
        this.progress = p;
        options.onProgress?.(p);
      },
    }).then(
      (report) => {
        this.last = report;
        this.lastError = null;
        return report;
      },
      (error: unknown) => {
        this.lastError = error instanceof Error ? error.message : String(error);
        throw error;
      },
    ).finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  private async pass({ dryRun, onProgress }: { dryRun: boolean; onProgress?: (p: ReconcileProgress) => void }): Promise<ReconcileReport> {
    const { store, settings: currentSettings, clock } = this.deps;
    const settings = currentSettings();
    const startedAt = clock();
    const report: ReconcileReport = {
      dryRun,
      startedAt: startedAt.toISOString(),
      finishedAt: '',
      salesforceRecords: 0,
      acContacts: 0,
      compared: 0,
      drift: { sfToAc: 0, acToSf: 0 },
      queued: 0,
      deadLetters: { examined: 0, superseded: 0, inStep: 0, requeued: 0 },
      acRequests: 0,
      sample: [],
    };

    // 1. Salesforce, whole, into the store (not the heap): one row per record with an email.
    const passId = `${startedAt.getTime()}-${Math.random().toString(36).slice(2, 8)}`;
    const field = settings.optOutField;
    // Dead letters are re-judged by what this pass reads: their emails are known up front (a few), so the pass
    // marks only those instead of remembering every email it compared.
    const letters = (await store.jobs.listDeadLetters({ limit: 10_000 })).filter((l) => l.kind === pushJobKind.name || l.kind === pullJobKind.name);
    const letterEmails = new Map<string, 'unseen' | 'in-step' | 'drift'>(letters.map((l) => [normaliseEmail(l.subject), 'unseen']));
    await this.holdLease();
    try {
      await store.db.query(`DELETE FROM reconcile_sf_records WHERE pass_id <> $1`, [passId]);
      for (const objectName of ['Contact', 'Lead'] as const) {
        await this.deps.salesforce.readAll(objectName, ['Id', 'Email', field, 'LastModifiedDate'], objectName === 'Lead' ? 'IsConverted = false' : null, async (rows) => {
          this.checkStopping();
          const keep = rows.filter((row) => typeof row.Email === 'string' && row.Email.trim() !== '' && typeof row.Id === 'string' && typeof row.LastModifiedDate === 'string');
          for (let i = 0; i < keep.length; i += SF_INSERT_BATCH) {
            const batch = keep.slice(i, i + SF_INSERT_BATCH);
            await store.db.query(
              `INSERT INTO reconcile_sf_records (pass_id, record_id, email_norm, object_name, opted_out, last_modified)
                 SELECT $1, r, e, $2, o, m FROM unnest($3::text[], $4::text[], $5::boolean[], $6::timestamptz[]) AS i(r, e, o, m)
               ON CONFLICT DO NOTHING`,
              [passId, objectName, batch.map((r) => String(r.Id)), batch.map((r) => normaliseEmail(String(r.Email))), batch.map((r) => truthy(r[field])), batch.map((r) => new Date(String(r.LastModifiedDate)))],
            );
          }
          report.salesforceRecords += keep.length;
          onProgress?.({ phase: 'salesforce', done: report.salesforceRecords, total: null });
        });
      }

      // 2. ActiveCampaign, page by page; each page's drift judged and queued as it comes.
      // Salesforce fixes are queued page by page; AC fixes wait for a bulk import's worth (PUSH_FLUSH) so that the
      // push worker takes them as one backlog through bulk import (a few requests per 250 people) rather than one by
      // one (two or more requests a person), which would take the AC budget from this very pass.
      let pendingPushes: Drift[] = [];
      // The next page is asked for as soon as this one arrives, and this one is judged while it travels: the pass
      // then runs at the budget's pace rather than at the budget's pace plus its own work per page.
      const fetchPage = (afterId: string | undefined) => {
        const next = this.readPage(afterId, report);
        // Awaited below; a failure while this page's work fails first must not go unhandled.
        next.catch(() => undefined);
        return next;
      };
      let nextPage = fetchPage(undefined);
      for (;;) {
        this.checkStopping();
        await this.holdLease();
        const page = await nextPage;
        if (page.nextAfterId !== null) nextPage = fetchPage(page.nextAfterId);
        const drifts = await this.judgePage(passId, page.contacts, settings, letterEmails, report);
        if (!dryRun) {
          const pulls = drifts.filter((d) => d.direction === 'ac-to-sf');
          pendingPushes.push(...drifts.filter((d) => d.direction === 'sf-to-ac'));
          const flush = pendingPushes.length >= PUSH_FLUSH || page.nextAfterId === null ? pendingPushes : [];
          if (pulls.length + flush.length > 0) await this.queueFixes([...pulls, ...flush], report);
          if (flush.length > 0) pendingPushes = [];
        }
        report.acContacts += page.contacts.length;
        onProgress?.({ phase: 'activecampaign', done: report.acContacts, total: page.nextAfterId === null ? report.acContacts : null });
        if (page.nextAfterId === null) break;
      }
    } finally {
      await store.db.query(`DELETE FROM reconcile_sf_records WHERE pass_id = $1`, [passId]).catch(() => undefined);
      await store.leases.release(FullReconciler.LEASE).catch(() => undefined);
    }

    // 3. Dead letters, re-judged by what was just read: a drifted email's fix is queued (the letter is superseded),
    // an email found in step needs nothing, and one not read on both sides goes back to the queue for its worker.
    onProgress?.({ phase: 'dead-letters', done: 0, total: null });
    report.deadLetters.examined = letters.length;
    const closed: { id: string; why: string; email: string }[] = [];
    for (const letter of letters) {
      const email = normaliseEmail(letter.subject);
      const judged = letterEmails.get(email);
      if (judged === 'drift') {
        report.deadLetters.superseded += 1;
        closed.push({ id: letter.id, email, why: 'superseded: the reconciliation queued a fix for this email' });
      } else if (judged === 'in-step') {
        report.deadLetters.inStep += 1;
        closed.push({ id: letter.id, email, why: 'in step: the reconciliation found both sides agreeing under the rules' });
      } else {
        report.deadLetters.requeued += 1;
        if (!dryRun) await (letter.kind === pushJobKind.name ? store.jobs.retryDeadLetter(pushJobKind, letter.id) : store.jobs.retryDeadLetter(pullJobKind, letter.id));
      }
    }
    if (!dryRun && closed.length > 0) {
      await store.db.transaction(async (tx) => {
        await store.jobs.closeDeadLetters(closed.map((c) => c.id), tx);
        await store.audit.record(closed.map((c) => ({ direction: 'internal' as const, email: c.email, decision: 'dead-letter-closed', reason: RECONCILIATION_REASON, result: c.why })), tx);
      });
    }

    report.finishedAt = clock().toISOString();
    if (!dryRun) {
      await store.audit.record([
        {
          direction: 'internal',
          email: null,
          decision: 'reconcile',
          reason: RECONCILIATION_REASON,
          result: `${report.salesforceRecords} Salesforce record(s), ${report.acContacts} AC contact(s), ${report.compared} compared; drift sf->ac ${report.drift.sfToAc}, ac->sf ${report.drift.acToSf}; ${report.queued} fix(es) queued; dead letters ${report.deadLetters.examined} examined`,
        },
      ]);
    }
    onProgress?.({ phase: 'done', done: report.acContacts, total: report.acContacts });
    this.deps.logger.info({ ...report, sample: undefined }, 'full reconciliation done');
    this.deps.onReport?.(report);
    return report;
  }

  /**
   * One AC page; a transient failure (429 with Retry-After, 5xx, a timeout) waits and asks again, so that one
   * throttled request does not end a pass of 1,000 pages (found by bench:reconcile: a single 429 failed the pass).
   */
  private async readPage(afterId: string | undefined, report: ReconcileReport): Promise<Awaited<ReturnType<FullReconcilerDeps['ac']['listAllContactsPage']>>> {
    for (let attempt = 1; ; attempt++) {
      report.acRequests += 1;
      try {
        return await this.deps.ac.listAllContactsPage(afterId === undefined ? {} : { afterId });
      } catch (error) {
        const failure = classifyFailure(error);
        if (failure.failureClass !== 'transient' || attempt >= PAGE_ATTEMPTS) throw error;
        const waitMs = Math.max(failure.retryAfterMs, Math.min(30_000, 500 * 2 ** (attempt - 1)));
        this.deps.logger.warn({ attempt, waitMs, err: failure.message }, 'full reconciliation: AC page failed, asking again');
        await (this.deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))))(waitMs);
      }
    }
  }

  private async judgePage(passId: string, contacts: ContactWithLists[], settings: Settings, letterEmails: Map<string, 'unseen' | 'in-step' | 'drift'>, report: ReconcileReport): Promise<Drift[]> {
    if (contacts.length === 0) return [];
    const emails = contacts.map((c) => normaliseEmail(c.contact.email));
    const found = await this.deps.store.db.query(
      `SELECT record_id, email_norm, object_name, opted_out, last_modified FROM reconcile_sf_records WHERE pass_id = $1 AND email_norm = ANY($2::text[])`,
      [passId, emails],
    );
    const byEmail = new Map<string, SalesforceRecordRead[]>();
    for (const raw of found.rows) {
      const r = sfRow.parse(raw);
      byEmail.set(r.email_norm, [...(byEmail.get(r.email_norm) ?? []), { recordId: r.record_id, objectName: r.object_name, optedOut: r.opted_out, lastModified: r.last_modified }]);
    }
    if (byEmail.size === 0) return [];
    // The records' history as the stream and our own writes told it (change times; never a fresh "now").
    const known = await this.deps.store.links.lastObserved([...byEmail.values()].flatMap((records) => records.map((r) => r.recordId)));
    let drifts: Drift[] = [];
    for (const read of contacts) {
      const email = normaliseEmail(read.contact.email);
      const records = byEmail.get(email);
      if (records === undefined) continue;
      report.compared += 1;
      if (letterEmails.has(email)) letterEmails.set(email, 'in-step');
      const unsubscribedAt: Record<string, Date> = {};
      for (const m of read.lists) if (m.status === 2 && m.udate !== null) unsubscribedAt[m.listId] = new Date(m.udate);
      drifts.push(...planDrift(email, records, toAcContactState(read), known, settings, unsubscribedAt));
    }
    drifts = await this.inScope(drifts);
    for (const d of drifts) {
      if (letterEmails.has(d.email)) letterEmails.set(d.email, 'drift');
      if (d.direction === 'sf-to-ac') report.drift.sfToAc += 1;
      else report.drift.acToSf += 1;
      if (report.sample.length < SAMPLE_SIZE) report.sample.push({ email: d.email, direction: d.direction, detail: d.direction === 'sf-to-ac' ? `opted out in Salesforce; AC lists ${d.listIds.join(', ')} still active` : `${d.pull.rule} in AC; Salesforce record(s) ${d.recordIds.join(', ')} not opted out` });
    }
    return drifts;
  }

  /** R7: a Campaign scope limits the Salesforce records, a tag scope the AC contacts. */
  private async inScope(drifts: Drift[]): Promise<Drift[]> {
    const { recordsInScope, acContactInScope } = this.deps;
    if (drifts.length === 0 || (recordsInScope === undefined && acContactInScope === undefined)) return drifts;
    const ids = drifts.flatMap((d) => (d.direction === 'sf-to-ac' ? d.records.map((r) => r.recordId) : d.recordIds));
    const scoped = recordsInScope === undefined ? new Set(ids) : await recordsInScope(ids);
    const out: Drift[] = [];
    for (const d of drifts) {
      const acId = d.direction === 'sf-to-ac' ? d.acContactId : d.pull.acContactId;
      if (acContactInScope !== undefined && !(await acContactInScope(acId))) continue;
      if (d.direction === 'sf-to-ac') {
        const records = d.records.filter((r) => scoped.has(r.recordId));
        if (records.length > 0) out.push({ ...d, records });
      } else {
        const recordIds = d.recordIds.filter((id) => scoped.has(id));
        if (recordIds.length > 0) out.push({ ...d, recordIds });
      }
    }
    return out;
  }

  /** Fixes go through the ordinary queues: push jobs by way of the intake (read source RECONCILE), pull jobs as R3/R4. */
  private async queueFixes(drifts: Drift[], report: ReconcileReport): Promise<void> {
    const { store } = this.deps;
    const pushes = drifts.filter((d): d is Extract<Drift, { direction: 'sf-to-ac' }> => d.direction === 'sf-to-ac');
    const pulls = drifts.filter((d): d is Extract<Drift, { direction: 'ac-to-sf' }> => d.direction === 'ac-to-sf');
    const changes: OptOutChange[] = pushes.flatMap((d) =>
      d.records.map((r) => ({
        recordId: r.recordId,
        objectName: r.objectName,
        email: d.email,
        optedOut: true,
        // A read: the intake dates it (dateReadValue) from LastModifiedDate and what we knew; never "now".
        changedAt: r.lastModified,
        changedBy: null,
        changeOrigin: '',
        source: 'RECONCILE' as const,
        transactionKey: null,
        replayId: '',
        channel: 'reconcile',
      })),
    );
    const audits: AuditEntry[] = [
      ...pushes.map((d) => ({ direction: 'sf_to_ac' as const, email: d.email, recordId: d.records[0]?.recordId ?? null, acContactId: d.acContactId, oldValue: `lists ${d.listIds.join(', ')} active`, newValue: 'unsubscribed (R1)', decision: 'reconcile-queued', reason: RECONCILIATION_REASON, result: 'queued' })),
      ...pulls.map((d) => ({ direction: 'ac_to_sf' as const, email: d.email, recordId: d.recordIds[0] ?? null, acContactId: d.pull.acContactId, oldValue: 'not opted out', newValue: `opted out (${d.pull.rule})`, decision: 'reconcile-queued', reason: RECONCILIATION_REASON, result: 'queued' })),
    ];
    await store.db.transaction(async (tx) => {
      if (changes.length > 0) await this.deps.intake.queue(tx, changes, { reconcile: RECONCILIATION_REASON });
      if (pulls.length > 0) await store.jobs.enqueue(tx, pullJobKind, pulls.map((d) => ({ subject: d.email, payload: d.pull })));
      await store.audit.record(audits, tx);
    });
    report.queued += drifts.length;
    if (pushes.length > 0) this.deps.onQueued?.('sf-to-ac');
    if (pulls.length > 0) this.deps.onQueued?.('ac-to-sf');
  }
}
