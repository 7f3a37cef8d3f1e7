// Entry point of the push path: a CometD message becomes queued work. The replay id is stored in the same
// transaction that queues the work (DESIGN §2), so a crash before the commit replays the message and a crash after
// it finds the work queued. A malformed message is quarantined in that same transaction and the stream goes on.
import type { Logger } from 'pino';
import type { Store, SqlExecutor } from '../store';
import type { AuditEntry } from '../store/audit-log';
import { normaliseMessage, type OptOutChange, type ChangeGap } from '../salesforce/change-normaliser';
import { MessageRejectedError } from '../salesforce/salesforce-errors';
import { pushJobKind, pushPayloadFromChange } from '../sync/push-job';
import { normaliseEmail } from '../sync/opt-out-change';
import { dateReadValue, UNKNOWN_AND_OLD } from '../sync/opt-out-recency';
import type { Settings } from '../sync/settings';
import type { Metrics } from '../observability/metrics';
import type { StreamMessage } from '../salesforce/streaming-subscriber';
import { emailHash } from '../observability/logger';

/**
 * Sources whose value was read from the record rather than delivered as a change, so whose `changedAt` is the
 * record's LastModifiedDate, not the moment of an opt-out change: they are dated by dateReadValue.
 */
const READ_SOURCES: ReadonlySet<OptOutChange['source']> = new Set(['RESYNC', 'GAP', 'FLOW', 'RECONCILE']);

export interface RecordSnapshot {
  recordId: string;
  objectName: 'Contact' | 'Lead';
  email: string | null;
  optedOut: boolean;
  lastModified: Date;
}

export interface SalesforceIntakeDeps {
  store: Store;
  settings: () => Settings;
  identity: () => { productClientId: string; integrationUserId: string | null };
  /** Current values of records (for changes without Email and for GAP events). */
  readRecords(objectName: 'Contact' | 'Lead', recordIds: string[]): Promise<RecordSnapshot[]>;
  /** Reconciles an object since a moment (GAP_OVERFLOW, expired replay id); runs outside the message's transaction. */
  requestReconcile(objectName: 'Contact' | 'Lead' | 'both', reason: string): void;
  /** R7 Campaign scope: the subset of record ids that are in scope. */
  recordsInScope?: (recordIds: string[]) => Promise<Set<string>>;
  onQueued?: () => void;
  logger: Logger;
  metrics: Metrics;
}

export class SalesforceIntake {
  constructor(private readonly deps: SalesforceIntakeDeps) {}

  async handleMessage(channel: string, raw: unknown, replayId: string): Promise<void> {
    await this.handleMessages(channel, [{ rawMessage: raw, replayId }]);
  }

  /**
   * Messages delivered together are stored together: one transaction queues the work of all of them (in delivery
   * order, so a later change of an email supersedes an earlier one), quarantines the malformed ones, and moves the
   * checkpoint to the last. A burst of 10,000 single-record CDC events then costs tens of transactions, not 10,000.
   */
  async handleMessages(channel: string, messages: StreamMessage[]): Promise<void> {
    const { store, metrics } = this.deps;
    metrics.eventsReceived.inc({ channel }, messages.length);
    const settings = this.deps.settings();
    const rejected: { raw: unknown; replayId: string; reason: string }[] = [];
    const changes: OptOutChange[] = [];
    const touched: { recordId: string; at: Date }[] = [];
    let echoes = 0;
    let gaps = 0;
    for (const { rawMessage, replayId } of messages) {
      let result;
      try {
        result = normaliseMessage(channel, rawMessage, { optOutField: settings.optOutField, ...this.deps.identity() });
      } catch (error) {
        if (!(error instanceof MessageRejectedError)) throw error;
        // A Pub/Sub event its schema could not decode arrives marked so: that is the reason to keep, not the shape
        // error its stand-in message then fails with (its change is left to the gap reconcile already recorded).
        const undecodable = typeof rawMessage === 'object' && rawMessage !== null && 'undecodable' in rawMessage && typeof rawMessage.undecodable === 'string' ? rawMessage.undecodable : null;
        rejected.push({ raw: rawMessage, replayId, reason: undecodable === null ? error.message : `event undecodable: ${undecodable}` });
        continue;
      }
      echoes += result.echoes;
      touched.push(...result.touched);
      gaps += result.gaps.length;
      changes.push(...result.changes, ...(await this.resolveGaps(result.gaps, channel)), ...(await this.optedOutWithNewEmail(result.emailChanges ?? [], channel, replayId)));
    }
    const checked = await this.answerDoorbells(changes);
    // Lag = now minus the newest commit time in the batch: how far behind Salesforce the push path runs.
    const newest = Math.max(...checked.filter((c) => c.source !== 'GAP').map((c) => c.changedAt.getTime()));
    if (Number.isFinite(newest)) metrics.replayLagSeconds.set({ channel }, Math.max(0, (Date.now() - newest) / 1000));
    const filled = await this.fillMissingEmails(checked);
    const inScope = this.deps.recordsInScope === undefined ? null : await this.deps.recordsInScope(filled.map((c) => c.recordId));
    const complete = inScope === null ? filled : filled.filter((c) => inScope.has(c.recordId));
    const outOfScope = inScope === null ? [] : filled.filter((c) => !inScope.has(c.recordId));
    const replayId = [...messages].reverse().find((m) => m.replayId !== '')?.replayId ?? null;
    const correlation = { channel, replayId: replayId ?? '' };
    await store.db.transaction(async (tx) => {
      for (const bad of rejected) await store.quarantine.put(`cometd:${channel}`, bad.reason, bad.raw, tx);
      await this.queue(tx, await this.withoutRedeliveries(tx, complete), correlation);
      await store.links.recordStreamProgress(touched, tx);
      await store.audit.record(outOfScope.map((c) => ({ direction: 'sf_to_ac' as const, email: c.email, recordId: c.recordId, decision: 'skip', reason: 'R7: the record is not in a scoped Campaign', result: 'out of scope', correlation: { channel, replayId: c.replayId || correlation.replayId } })), tx);
      if (echoes > 0) {
        await store.audit.record([{ direction: 'internal', email: null, decision: 'drop-echo', reason: 'R6: written by this product', result: `${echoes} record change(s) dropped`, correlation }], tx);
      }
      if (replayId !== null) await store.replay.save(tx, channel, replayId);
    });
    if (echoes > 0) metrics.echoesDropped.inc(echoes);
    for (const bad of rejected) {
      metrics.quarantined.inc({ source: 'cometd' });
      this.deps.logger.warn({ channel, replayId: bad.replayId, reason: bad.reason }, 'message quarantined');
    }
    this.deps.logger.info(
      {
        channel,
        replayId,
        messages: messages.length,
        transactionKeys: [...new Set(complete.map((c) => c.transactionKey).filter((k) => k !== null))].slice(0, 5),
        emails: [...new Set(complete.filter((c) => c.email !== null).map((c) => emailHash(c.email!)))].slice(0, 20),
        changes: complete.length,
        echoes,
        gaps,
      },
      'salesforce change queued',
    );
    if (complete.length > 0) this.deps.onQueued?.();
  }

  /**
   * An opted-out record that gets a new email address: R1 applies to the record's current email, so the new address
   * is unsubscribed everywhere (the old one is left as it is: R2). The change is dated by the Email change's commit:
   * lists the new address joins after that are the person's newer choice. Its opt-out history does not move.
   */
  private async optedOutWithNewEmail(emailChanges: NonNullable<ReturnType<typeof normaliseMessage>['emailChanges']>, channel: string, replayId: string): Promise<OptOutChange[]> {
    const changes: OptOutChange[] = [];
    for (const change of emailChanges) {
      for (const record of await this.deps.readRecords(change.objectName, change.recordIds)) {
        if (!record.optedOut || record.email === null) continue;
        changes.push({ recordId: record.recordId, objectName: change.objectName, email: record.email, optedOut: true, changedAt: change.at, changedBy: null, changeOrigin: '', source: 'EMAIL_CHANGE', transactionKey: null, replayId, channel });
      }
    }
    return changes;
  }

  /**
   * A Platform Event (the relay, a Flow, a Resync action) rings the bell; the record's current value decides. The
   * event's fields come from inside the org (any user with create permission on the event can publish one), so the
   * record is read: a relayed change whose value the record still holds keeps its time (never later than the
   * record's LastModifiedDate), anything else becomes a read of the record. A record that cannot be read (deleted,
   * not visible) keeps an opt-out (in doubt, the opt-out wins) and drops an opt-in.
   */
  private async answerDoorbells(changes: OptOutChange[]): Promise<OptOutChange[]> {
    // A Platform Event saying Source GAP rings too (its fields are as forgeable as any other); a GAP change this
    // intake made itself by reading the record (resolveGaps: no replay id) already is the record's value.
    const rings = changes.filter((c) => c.source === 'CDC_RELAY' || c.source === 'FLOW' || c.source === 'RESYNC' || (c.source === 'GAP' && c.replayId !== ''));
    if (rings.length === 0) return changes;
    const current = new Map<string, RecordSnapshot>();
    for (const objectName of ['Contact', 'Lead'] as const) {
      const ids = [...new Set(rings.filter((c) => c.objectName === objectName).map((c) => c.recordId))];
      // Keyed by the 15-character id: events and queries may name a record by either form.
      if (ids.length > 0) for (const r of await this.deps.readRecords(objectName, ids)) current.set(r.recordId.slice(0, 15), r);
    }
    const out: OptOutChange[] = [];
    for (const c of changes) {
      if (!rings.includes(c)) {
        out.push(c);
        continue;
      }
      const record = current.get(c.recordId.slice(0, 15));
      if (record === undefined) {
        if (c.optedOut) out.push(c);
        continue;
      }
      if (c.source === 'CDC_RELAY' && record.optedOut === c.optedOut) {
        out.push({ ...c, email: record.email ?? c.email, changedAt: c.changedAt.getTime() > record.lastModified.getTime() ? record.lastModified : c.changedAt });
        continue;
      }
      // What the event claimed is not what the record holds (or the event only asks for a look): a read.
      out.push({ ...c, recordId: record.recordId, email: record.email, optedOut: record.optedOut, changedAt: record.lastModified, source: c.source === 'CDC_RELAY' ? 'GAP' : c.source });
    }
    return out;
  }

  /** Queues changes (from the stream or a reconcile) in the caller's transaction. */
  async queue(tx: SqlExecutor, incoming: OptOutChange[], correlation: Record<string, string>): Promise<void> {
    const { store } = this.deps;
    const changes = await this.dateReads(tx, incoming);
    const withEmail = changes.filter((c): c is OptOutChange & { email: string; historyChanged: boolean; knownAt: Date | null } => c.email !== null && c.email.trim() !== '');
    const audits: AuditEntry[] = changes
      .filter((c) => c.email === null || c.email.trim() === '')
      .map((c) => ({ direction: 'sf_to_ac', email: null, recordId: c.recordId, decision: 'skip', reason: 'the record has no email', result: 'nothing to do', correlation }));
    // A read that found the value we already knew records nothing: its history did not change.
    await store.links.recordObservations(
      withEmail.filter((c) => c.historyChanged).map((c) => ({ recordId: c.recordId, objectName: c.objectName, email: normaliseEmail(c.email), optedOut: c.optedOut, changedAt: c.knownAt })),
      tx,
    );
    await store.links.recordEmailChanges(withEmail.filter((c) => c.source === 'EMAIL_CHANGE').map((c) => ({ recordId: c.recordId, at: c.changedAt })), tx);
    if (withEmail.length > 0) {
      await store.jobs.enqueue(
        tx,
        pushJobKind,
        withEmail.map((c) => ({ subject: normaliseEmail(c.email), payload: pushPayloadFromChange({ ...c, email: c.email }) })),
      );
      this.deps.metrics.jobsQueued.inc({ kind: pushJobKind.name }, withEmail.length);
    }
    await store.audit.record(audits, tx);
  }

  /**
   * Values read rather than delivered (READ_SOURCES) take the time of their last real change, or the bound that
   * favours the opt-out (sync/opt-out-recency.ts dateReadValue); an opt-in of unknown time is unknown-and-old.
   */
  private async dateReads(tx: SqlExecutor, changes: OptOutChange[]): Promise<(OptOutChange & { historyChanged: boolean; knownAt: Date | null })[]> {
    const reads = changes.filter((c) => READ_SOURCES.has(c.source) || c.source === 'EMAIL_CHANGE');
    const known = reads.length === 0 ? new Map() : await this.deps.store.links.lastObserved([...new Set(reads.map((c) => c.recordId))], tx);
    type Dated = OptOutChange & { historyChanged: boolean; knownAt: Date | null };
    return changes.flatMap((c): Dated[] => {
      const before: { email: string; optedOut: boolean | null; changedAt: Date | null } | undefined = known.get(c.recordId);
      // A read that finds an opted-out record under another address than its history is an email change the stream
      // did not show (a change lost with the retention, a gap, a missed relay): R1 applies to the new address, dated
      // by LastModifiedDate, the latest the move can have happened (lists the new address joined before it are left
      // too; dated by the old opt-out, they were kept as "joined after the opt-out").
      const moved = READ_SOURCES.has(c.source) && c.optedOut && c.email !== null && c.email.trim() !== '' && before !== undefined && before.email !== normaliseEmail(c.email);
      if (c.source === 'EMAIL_CHANGE' || moved) {
        // The address changed, not the opt-out: its history keeps its time (or gets the commit as an upper bound) and
        // learns the new address, so that a later read does not take the same move for a new one.
        const dated = dateReadValue({ optedOut: c.optedOut, lastModified: c.changedAt }, before);
        const underNewAddress = { ...c, source: 'EMAIL_CHANGE' as const, historyChanged: true, knownAt: dated.changedAt };
        // An opt-out we never saw, found together with the move: it may have been made under the address we last
        // knew (both events purged while the stream was down), and nothing orders the two. In doubt the opt-out wins:
        // R1 for that address too, dated like the move (the latest it can have happened). Only the job: the record's
        // history follows the record to its current address.
        // A streamed Email change comes in order with the opt-out's own event: this is for reads only.
        const unseenOptOut = moved && before.optedOut !== true && before.email !== '';
        return unseenOptOut ? [{ ...c, email: before.email, source: 'GAP', historyChanged: false, knownAt: c.changedAt }, underNewAddress] : [underNewAddress];
      }
      if (!READ_SOURCES.has(c.source)) return [{ ...c, historyChanged: true, knownAt: c.changedAt }];
      const dated = dateReadValue({ optedOut: c.optedOut, lastModified: c.changedAt }, known.get(c.recordId));
      // The job needs a moment to order merges by; the record's history keeps "unknown" as unknown.
      return [{ ...c, changedAt: dated.changedAt ?? UNKNOWN_AND_OLD, historyChanged: dated.changed, knownAt: dated.changedAt }];
    });
  }

  /**
   * On restart the stream resumes from the id before the last one handled (replay-checkpoint-store), so the last
   * event comes again. A change whose exact value and commit time were already observed was queued then: queued a
   * second time it would re-apply R1 later, e.g. unsubscribe the lists a person joined after the opt-out (found by
   * the system model test). Gap re-reads and resyncs are fresh reads, never redeliveries: they always pass. Nor is
   * a change under another address than the one observed: that is the record's move, whatever its time.
   */
  private async withoutRedeliveries(tx: SqlExecutor, changes: OptOutChange[]): Promise<OptOutChange[]> {
    const streamed = changes.filter((c) => c.source !== 'GAP' && c.source !== 'RESYNC' && c.source !== 'RECONCILE');
    if (streamed.length === 0) return changes;
    const seen = await this.deps.store.links.lastObserved([...new Set(streamed.map((c) => c.recordId))], tx);
    const fresh = changes.filter((c) => {
      if (c.source === 'GAP' || c.source === 'RESYNC' || c.source === 'RECONCILE') return true;
      const last = seen.get(c.recordId);
      // Salesforce dates changes to the second: an opt-out (ours, from an R3) and a move of the record to another
      // address in the same second have one time. The address tells them apart (found by the system model).
      const movedSince = c.email !== null && c.email.trim() !== '' && last !== undefined && last.email !== normaliseEmail(c.email);
      if (c.source === 'EMAIL_CHANGE') {
        // Dated by the move, not by the opt-out the history keeps: a move to the address the record is already known
        // under, no later than the last Email change queued for it, was queued then (found by the system model: the
        // replayed move re-ran R1 over a list joined while the middleware was down). Not stream_seen_at: a
        // reconcile's read advances it without queueing the move.
        const queuedAlready = last !== undefined && !movedSince && last.emailChangedAt !== null && c.changedAt.getTime() <= last.emailChangedAt.getTime();
        return !queuedAlready;
      }
      return last === undefined || movedSince || last.optedOut !== c.optedOut || last.changedAt === null || last.changedAt.getTime() !== c.changedAt.getTime();
    });
    if (fresh.length < changes.length) this.deps.logger.info({ dropped: changes.length - fresh.length }, 'redelivered salesforce changes dropped: already queued');
    return fresh;
  }

  private async resolveGaps(gaps: ChangeGap[], channel: string): Promise<OptOutChange[]> {
    const changes: OptOutChange[] = [];
    for (const gap of gaps) {
      if (gap.overflow || gap.recordIds.length === 0) {
        this.deps.requestReconcile(gap.objectName, `gap overflow on ${channel}`);
        continue;
      }
      // A gap event says "these records changed, data not available": re-read them and bring each email in line.
      for (const record of await this.deps.readRecords(gap.objectName, gap.recordIds)) {
        changes.push({ ...record, changedAt: record.lastModified, changedBy: null, changeOrigin: '', source: 'GAP', transactionKey: null, replayId: '', channel });
      }
    }
    return changes;
  }

  /** CDC UPDATEs carry Email only when enriched or changed; the relay event always does. Re-read the rest. */
  private async fillMissingEmails(changes: OptOutChange[]): Promise<OptOutChange[]> {
    const missing = changes.filter((c) => c.email === null);
    if (missing.length === 0) return changes;
    const found = new Map<string, string | null>();
    for (const objectName of ['Contact', 'Lead'] as const) {
      const ids = missing.filter((c) => c.objectName === objectName).map((c) => c.recordId);
      if (ids.length === 0) continue;
      for (const r of await this.deps.readRecords(objectName, ids)) found.set(r.recordId, r.email);
    }
    return changes.map((c) => (c.email === null ? { ...c, email: found.get(c.recordId) ?? null } : c));
  }
}
