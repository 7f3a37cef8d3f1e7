// The reverse path's safety net (AC webhooks are never retried): pages through contacts changed since the stored
// cursor, re-reading an overlap for clock skew, and feeds them to the detector. The first run only records the
// snapshot (no mass flip at install). Because AC does not document that every list-status change bumps a
// contact's udate, a full pass runs periodically as well.
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Store, SqlExecutor } from '../store';
import type { ActiveCampaignClient, ContactsPage } from '../activecampaign/activecampaign-client';
import { toAcContactState } from './ac-contact-state';
import { detectAndQueue } from './ac-change-detector';
import type { SubscribeSource } from '../sync/subscribe-source';
import type { AcContactState } from '../sync/ac-transitions';
import type { Clock } from '../store/clock';
import type { Metrics } from '../observability/metrics';
import { pullJobKind } from '../sync/pull-job';

const CURSOR = 'ac-contacts';
const FULL_PASS_CURSOR = 'ac-contacts-full-pass';
const BASELINE_KEY = 'ac-baseline-done';

export interface PollSummary {
  mode: 'baseline' | 'incremental' | 'full' | 'skipped';
  pages: number;
  observed: number;
  queued: number;
  /** Stopped between pages because shouldPause said so; the next poll resumes after the last page handled. */
  paused?: boolean;
}

export class AcPoller {
  private inFlight: Promise<PollSummary> | null = null;

  constructor(
    private readonly deps: {
      store: Store;
      ac: Pick<ActiveCampaignClient, 'listContactsUpdatedSince' | 'listAllContactsPage'>;
      clock: Clock;
      logger: Logger;
      metrics: Metrics;
      overlapMs: number;
      fullPassEveryMs?: number;
      inScope?: (state: AcContactState) => boolean;
      /** R5_Subscribe_Sources__c: a poll knows no source, so only a setting that counts `unknown` lets its R5 through. */
      countedSubscribeSources?: () => readonly SubscribeSource[];
      onQueued?: () => void;
      /** Asked between pages of an incremental poll or a full pass: true stops there (the cursor holds the place). */
      shouldPause?: () => Promise<boolean>;
    },
  ) {}

  /** `tx`: read inside a caller's transaction (on the embedded database, a read beside it would wait for it). */
  async isBaselineDone(tx?: SqlExecutor): Promise<boolean> {
    return (await this.deps.store.kv.get(BASELINE_KEY, z.boolean(), tx)) === true;
  }

  /** A poll never overlaps the previous one: a tick during a poll returns that poll's result. */
  pollOnce(): Promise<PollSummary> {
    if (this.inFlight === null) {
      const end = this.deps.metrics.pollDuration.startTimer();
      this.inFlight = this.run().finally(() => {
        end();
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  private async run(): Promise<PollSummary> {
    const { store, clock } = this.deps;
    const startedAt = clock();
    if (!(await this.isBaselineDone())) {
      const summary = await this.fullPass('baseline', startedAt);
      await store.db.transaction(async (tx) => {
        await store.kv.set(BASELINE_KEY, true, tx);
        await store.cursors.save(CURSOR, { at: startedAt, id: null }, tx);
        // The baseline was a full pass: the next one is due a full period later, not at the next tick.
        await store.cursors.save(FULL_PASS_CURSOR, { at: startedAt, id: null }, tx);
      });
      this.deps.logger.info({ contacts: summary.observed }, 'activecampaign baseline recorded; nothing written to Salesforce');
      return summary;
    }
    const lastFull = await store.cursors.load(FULL_PASS_CURSOR);
    if (this.deps.fullPassEveryMs !== undefined && (lastFull === null || startedAt.getTime() - lastFull.at.getTime() >= this.deps.fullPassEveryMs)) {
      const summary = await this.fullPass('full', startedAt);
      if (summary.paused === true) return summary;
      await store.cursors.save(FULL_PASS_CURSOR, { at: startedAt, id: null });
      return summary;
    }
    const cursor = (await store.cursors.load(CURSOR)) ?? { at: startedAt, id: null };
    const since = new Date(cursor.at.getTime() - this.deps.overlapMs);
    let afterId = cursor.id ?? undefined;
    const summary: PollSummary = { mode: 'incremental', pages: 0, observed: 0, queued: 0 };
    for (;;) {
      const page = await this.deps.ac.listContactsUpdatedSince({ updatedAfter: since, afterId });
      summary.pages++;
      await this.handlePage(page, summary, false, (tx) => store.cursors.save(CURSOR, { at: cursor.at, id: page.nextAfterId }, tx));
      if (page.nextAfterId === null) break;
      if (await this.pauseHere(summary)) return summary;
      afterId = page.nextAfterId;
    }
    await store.cursors.save(CURSOR, { at: startedAt, id: null });
    return summary;
  }

  private async fullPass(mode: 'baseline' | 'full', startedAt: Date): Promise<PollSummary> {
    const { store } = this.deps;
    const progress = await store.cursors.load(`${FULL_PASS_CURSOR}-progress`);
    let afterId = progress?.id ?? undefined;
    const summary: PollSummary = { mode, pages: 0, observed: 0, queued: 0 };
    for (;;) {
      const page = await this.deps.ac.listAllContactsPage({ afterId });
      summary.pages++;
      // A failed pass resumes after the last page it finished.
      await this.handlePage(page, summary, mode === 'baseline', (tx) => store.cursors.save(`${FULL_PASS_CURSOR}-progress`, { at: startedAt, id: page.nextAfterId }, tx));
      if (page.nextAfterId === null) break;
      // The baseline runs once, before anything else is synced: nothing to give way to.
      if (mode === 'full' && (await this.pauseHere(summary))) return summary;
      afterId = page.nextAfterId;
    }
    return summary;
  }

  private async pauseHere(summary: PollSummary): Promise<boolean> {
    if (this.deps.shouldPause === undefined || !(await this.deps.shouldPause())) return false;
    this.deps.logger.info({ mode: summary.mode, pages: summary.pages }, 'poll paused between pages; the next one resumes from the cursor');
    summary.paused = true;
    return true;
  }

  private async handlePage(page: ContactsPage, summary: PollSummary, baseline: boolean, saveProgress: (tx: import('../store').SqlExecutor) => Promise<void>): Promise<void> {
    const { store } = this.deps;
    const states = page.contacts.map(toAcContactState);
    await store.db.transaction(async (tx) => {
      const result = await detectAndQueue(store, tx, states, { observedAt: this.deps.clock(), via: 'poll', baseline, inScope: this.deps.inScope, countedSubscribeSources: this.deps.countedSubscribeSources?.() });
      summary.observed += result.observed;
      summary.queued += result.queued;
      if (result.queued > 0) this.deps.metrics.jobsQueued.inc({ kind: pullJobKind.name }, result.queued);
      await saveProgress(tx);
    });
    if (summary.queued > 0) this.deps.onQueued?.();
  }
}
