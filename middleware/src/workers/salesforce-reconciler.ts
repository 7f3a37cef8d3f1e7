// Closes windows in which stream events may have been missed (expired replay id after downtime, GAP_OVERFLOW):
// SOQL on LastModifiedDate since the last moment we knew we were in step, and queue every record whose opt-out
// value differs from what we last saw. Records we never saw are queued only when opted out (R1 must hold; an
// opt-in we never saw changes nothing under the sticky default). An opted-out record whose Email is not the address
// we last saw it with got a new one in the window: R1 applies to the new address (as the stream's EMAIL_CHANGE).
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Store } from '../store';
import type { SalesforceRestClient } from '../salesforce/salesforce-rest';
import type { OptOutChange } from '../salesforce/change-normaliser';
import type { Settings } from '../sync/settings';
import type { SalesforceIntake } from './salesforce-intake';
import type { Clock } from '../store/clock';
import { normaliseEmail } from '../sync/opt-out-change';

/** How far before the last known-good moment a reconcile starts (found by the chaos run: a stream killed mid-flight). */
export const RECONCILE_MARGIN_MS = 5 * 60_000;

const linkRow = z.object({ sf_record_id: z.string(), opted_out: z.boolean().nullable(), email_norm: z.string() });

export class SalesforceReconciler {
  private running: Promise<number> | null = null;

  constructor(
    private readonly deps: {
      store: Store;
      rest: Pick<SalesforceRestClient, 'queryChangedSince'>;
      intake: SalesforceIntake;
      settings: () => Settings;
      clock: Clock;
      logger: Logger;
      /** How far back to look when no checkpoint says when we were last in step. */
      defaultLookbackMs?: number;
    },
  ) {}

  /**
   * One reconcile at a time; a request while one runs waits for it and then queries on its own. Joining the running
   * one would let a gap recorded after that run's query be closed without ever being looked at.
   */
  reconcile(objects: ('Contact' | 'Lead')[], since: Date | null, reason: string): Promise<number> {
    // The previous run's failure is its caller's to handle; this one runs regardless.
    const next = (this.running ?? Promise.resolve(0)).catch(() => 0).then(() => this.run(objects, since, reason));
    this.running = next;
    const clear = () => {
      if (this.running === next) this.running = null;
    };
    next.then(clear, clear);
    return next;
  }

  /**
   * Reconciles every open stream gap and closes each once its reconcile succeeded; a failure leaves it open, so the
   * next round tries again. A gap recorded for one object (GAP_OVERFLOW, a relay gap) reconciles that object only.
   */
  async reconcileOpenGaps(): Promise<number> {
    const gaps = await this.deps.store.replay.openGaps();
    for (const gap of gaps) {
      const objects: ('Contact' | 'Lead')[] = gap.channel === 'reconcile:Contact' ? ['Contact'] : gap.channel === 'reconcile:Lead' ? ['Lead'] : ['Contact', 'Lead'];
      await this.reconcile(objects, gap.since, `${gap.reason} (${gap.channel})`);
      await this.deps.store.replay.closeGaps([gap.id]);
    }
    return gaps.length;
  }

  private async run(objects: ('Contact' | 'Lead')[], sinceOrNull: Date | null, reason: string): Promise<number> {
    const { store, settings } = this.deps;
    const optOutField = settings().optOutField;
    // The checkpoint's time is when we stored the last event we handled, not when the next one was committed:
    // events committed just before it can still have been in flight, and LastModifiedDate has whole seconds.
    // Looking further back costs little (records whose value we already saw are not queued again).
    const since = sinceOrNull !== null ? new Date(sinceOrNull.getTime() - RECONCILE_MARGIN_MS) : new Date(this.deps.clock().getTime() - (this.deps.defaultLookbackMs ?? 72 * 3600_000));
    const schema = z.object({ Id: z.string(), Email: z.string().nullable(), LastModifiedDate: z.string() }).catchall(z.unknown());
    let queued = 0;
    for (const objectName of objects) {
      const rows = await this.deps.rest.queryChangedSince(objectName, since, ['Id', 'Email', optOutField, 'LastModifiedDate'], schema, { timestampField: 'LastModifiedDate' });
      const known = await store.db.query(`SELECT sf_record_id, opted_out, email_norm FROM sf_ac_links WHERE sf_record_id = ANY($1::text[])`, [rows.map((r) => r.Id)]);
      const seen = new Map(known.rows.map((k) => linkRow.parse(k)).map((k) => [k.sf_record_id, k]));
      const movedAddress = (r: { Id: string; Email: string | null }, optedOut: boolean) => {
        const link = seen.get(r.Id);
        return optedOut && link !== undefined && link.opted_out === true && r.Email !== null && normaliseEmail(r.Email) !== link.email_norm;
      };
      const changes: OptOutChange[] = rows
        .map((r) => ({ r, optedOut: r[optOutField] === true }))
        .filter(({ r, optedOut }) => (seen.has(r.Id) ? seen.get(r.Id)!.opted_out !== optedOut || movedAddress(r, optedOut) : optedOut))
        .map(({ r, optedOut }) => ({
          recordId: r.Id,
          objectName,
          email: r.Email,
          optedOut,
          changedAt: new Date(r.LastModifiedDate),
          changedBy: null,
          changeOrigin: '',
          // A new address of a record already opted out is dated by the record's last change, which is no earlier
          // than the Email edit: lists the new address was on by then are unsubscribed, later ones are its own choice.
          source: movedAddress(r, optedOut) ? ('EMAIL_CHANGE' as const) : ('GAP' as const),
          transactionKey: null,
          replayId: '',
          channel: 'reconcile',
        }));
      await store.db.transaction(async (tx) => {
        await this.deps.intake.queue(tx, changes, { reconcile: reason });
        // Every record read here is known up to its LastModifiedDate: the pull path need not wait for its events.
        await store.links.recordStreamProgress(rows.map((r) => ({ recordId: r.Id, at: new Date(r.LastModifiedDate) })), tx);
      });
      await store.audit.record([{ direction: 'internal', email: null, decision: 'reconcile', reason, result: `${objectName}: ${rows.length} changed since ${since.toISOString()}, ${changes.length} queued` }]);
      queued += changes.length;
    }
    this.deps.logger.info({ reason, since: since.toISOString(), queued }, 'salesforce reconcile done');
    return queued;
  }
}
