// The Salesforce event stream, wired in one place: the configuration names the transport (SF_EVENT_TRANSPORT),
// and either subscriber feeds the same intake with the same callbacks, so durability (replay id stored in the
// transaction that queues the work), gap recording and reconcile do not depend on the transport.
import fs from 'node:fs';
import type { AppConfig } from '../config/load-config';
import type { Store } from '../store';
import type { Metrics } from '../observability/metrics';
import type { Logger } from '../salesforce/logger-and-clock';
import type { Clock } from '../salesforce/logger-and-clock';
import { StreamingSubscriber, type StreamingSession, type SubscriberState } from '../salesforce/streaming-subscriber';
import { PubSubSubscriber } from '../salesforce/pubsub';
import type { SalesforceIntake } from '../workers/salesforce-intake';
import { channelsForEventMode } from '../salesforce/package-names';
import { ConnectedSince } from '../server/connected-since';
import type { AppContext } from './app-context';
import type { LeaderDuty, Leadership } from './leadership';
import { registerStreamGauges } from '../observability/stream-metrics';

export interface EventStream {
  start(): Promise<void>;
  stop(): Promise<void>;
  state(): SubscriberState;
}

export interface EventStreamDeps {
  config: AppConfig['salesforce'];
  session: StreamingSession;
  channels: string[];
  store: Store;
  intake: SalesforceIntake;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  /** A gap was recorded: the reconcile loop should look now. */
  onGapRecorded: () => void;
  timing: { streamServerTimeoutMs: number; fayeRetrySeconds: number; busyBackoffMs: number };
}

/** Reason of the gap a resume from a stored '-2' records (see recordEarliestResume). */
export const earliestResumeGapReason = 'resumed from -2 (every retained event): events purged while the stream was down cannot be replayed';

/** Reason of the gap a start with no checkpoint records after an earlier uncheckpointed run (see loadReplayId). */
export const uncheckpointedRestartGapReason = 'started again with no checkpoint: changes made since the last -1 subscription were never delivered';

export function createEventStream(deps: EventStreamDeps): EventStream {
  const { config, store, metrics } = deps;
  // A stored '-2' means one distinct replay id has been seen so far (right after install): there is no resume point,
  // and -2 replays only what Salesforce still retains (72 h). After a longer downtime the changes whose events were
  // purged are gone, and Salesforce reports no error for -2 (an expired id it does report), so the window from the
  // checkpoint's last write is recorded as a gap here, in the one place both transports read their resume point,
  // before the subscribe goes out. An open gap from the same checkpoint time already covers a reconnect of a running
  // process: a flapping connection adds no rows while it waits for its reconcile.
  // A closed gap of an earlier resume covered the window up to its detection: a reconnect after it looks from there,
  // not from the checkpoint again. A quiet channel keeps -2 for weeks after install, and every reconnect re-read every
  // record changed since install (an outside review: each reconnect cost a reconcile growing with the org, against
  // the daily API limit the opt-out writes share).
  const recordEarliestResume = async (channel: string, checkpointAt: Date): Promise<void> => {
    const reconciled = await store.replay.reconciledThrough(channel, earliestResumeGapReason);
    const since = reconciled !== null && reconciled.getTime() > checkpointAt.getTime() ? reconciled : checkpointAt;
    if (!(await store.replay.recordGapUnlessOpen(channel, earliestResumeGapReason, null, since))) return;
    deps.logger.warn({ channel, since: since.toISOString() }, 'resuming from -2: reconciling what changed since the checkpoint, whose events may have been purged');
    metrics.quarantined.inc({ source: 'earliest-resume' });
    deps.onGapRecorded();
  };
  // No checkpoint at all (no event handled since install) subscribes at -1: new events only. A process stopped before
  // the channel's first event comes back with no checkpoint again, and what changed while it was down would wait for
  // the nightly reconciliation (an outside review: an opt-out made then was not applied). The first subscribe of each
  // run leaves a durable mark; a later run that still finds no checkpoint reconciles from the last mark. Reconnects
  // within a run are the subscriber's (its -1 renewal gap).
  const uncheckpointedStart = new Set<string>();
  const recordUncheckpointedStart = async (channel: string): Promise<void> => {
    const since = await store.replay.lastUncheckpointedSubscribe(channel);
    if (since !== null && (await store.replay.recordGapUnlessOpen(channel, uncheckpointedRestartGapReason, null, since))) {
      deps.logger.warn({ channel, since: since.toISOString() }, 'started with no checkpoint after an earlier run: reconciling what changed since its subscription');
      metrics.quarantined.inc({ source: 'uncheckpointed-restart' });
      deps.onGapRecorded();
    }
    await store.replay.markUncheckpointedSubscribe(channel);
    uncheckpointedStart.add(channel);
  };
  const callbacks = {
    session: deps.session,
    channels: deps.channels,
    loadReplayId: async (channel: string) => {
      const checkpoint = await store.replay.resumePoint(channel);
      if (checkpoint?.replayId === '-2') await recordEarliestResume(channel, checkpoint.updatedAt);
      if (checkpoint === null && !uncheckpointedStart.has(channel)) await recordUncheckpointedStart(channel);
      return checkpoint?.replayId ?? null;
    },
    onMessages: (channel: string, messages: Parameters<SalesforceIntake['handleMessages']>[1]) => deps.intake.handleMessages(channel, messages),
    onReplayExpired: async (channel: string, lostReplayId: string) => {
      // Changes made while we could not replay are found by SOQL. The gap is recorded first and closed only by a
      // reconcile that succeeded, so a failure here (revoked token, lost database connection, a kill) is retried
      // instead of losing what was changed during the downtime.
      const since = await store.replay.lastGoodAt(channel);
      await store.replay.recordGap(channel, 'replay id expired', lostReplayId, since);
      metrics.quarantined.inc({ source: 'replay-expired' });
      deps.onGapRecorded();
    },
    onUnreplayableGap: async (channel: string, since: Date) => {
      await store.replay.recordGap(channel, 'events published before a -1 subscription went live cannot be replayed', null, since);
      metrics.quarantined.inc({ source: 'unreplayable-gap' });
      deps.onGapRecorded();
    },
    // A Pub/Sub event its schema cannot decode carried a change nobody can read: recorded as a gap (reconcile finds
    // the change by SOQL) before the batch is stored, so the checkpoint never moves past it unrecorded; the intake
    // quarantines the event itself in the checkpoint's transaction.
    onUndecodable: async (channel: string, event: { replayId: string; reason: string }) => {
      const since = await store.replay.lastGoodAt(channel);
      await store.replay.recordGap(channel, `event undecodable: ${event.reason}`, event.replayId, since);
      deps.onGapRecorded();
    },
    expiredReplayFallback: config.expiredReplayFallback,
    logger: deps.logger,
    clock: deps.clock,
  };
  if (config.eventTransport === 'pubsub') {
    deps.logger.info({ endpoint: config.pubSubEndpoint, channels: deps.channels }, 'event transport: Pub/Sub API');
    return new PubSubSubscriber({
      ...callbacks,
      endpoint: config.pubSubEndpoint,
      rootCertificatePem: config.pubSubCaFile === undefined ? null : fs.readFileSync(config.pubSubCaFile, 'utf8'),
    });
  }
  deps.logger.info({ channels: deps.channels }, 'event transport: CometD');
  return new StreamingSubscriber({
    ...callbacks,
    serverTimeoutMs: deps.timing.streamServerTimeoutMs,
    fayeRetrySeconds: deps.timing.fayeRetrySeconds,
    busyBackoffMs: deps.timing.busyBackoffMs,
  });
}

/** The stream as the leader runs it: subscribed on the channels the org's event mode names when leadership is acquired. */
export interface LeaderStream {
  duty: LeaderDuty;
  /** The running subscriber's state, null on a standby instance. */
  state(): SubscriberState | null;
  /** Since when the current connection is up (moves only on a reconnect, not with every poll). */
  connectedSince(): number | null;
}

export function wireEventStream(ctx: AppContext, intake: SalesforceIntake, leadership: Leadership): LeaderStream {
  const { config, salesforce, store, metrics, logger, edgeClock, links, timing } = ctx;
  let subscriber: EventStream | null = null;
  const connectedSince = new ConnectedSince();
  registerStreamGauges(metrics.registry, () => ({ leader: leadership.isLeader(), connected: subscriber?.state().connected === true }));
  return {
    duty: {
      async start() {
        const channels = channelsForEventMode(salesforce.settings.get().eventMode);
        subscriber = createEventStream({ config: config.salesforce, session: salesforce.session, channels, store, intake, metrics, logger, clock: edgeClock, onGapRecorded: () => links.pokeGaps(), timing });
        await subscriber.start();
      },
      async stop() {
        await subscriber?.stop();
        subscriber = null;
      },
    },
    state: () => subscriber?.state() ?? null,
    connectedSince: () => connectedSince.observe(subscriber?.state() ?? null),
  };
}
