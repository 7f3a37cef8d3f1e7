// Fuzzing the push path's entry point: SalesforceIntake.handleMessage on the CDC channel and on the relay Platform
// Event channel, with a real store (PGlite in memory) and only Salesforce's record reads stubbed (outside).
// Every input is a vendor fixture with one thing broken; after each one a valid opt-out must still be queued.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import pino from 'pino';
import { openTestDatabase, type TestDatabase } from '../support/test-databases';
import { readFixtureJson, listFixtures } from '../support/fixtures';
import { cdcCreateMessage, cdcDeleteMessage, cdcUpdateMessage, relayEventMessage } from '../salesforce/cdc-fixture-variants';
import { createStore, type Store } from '../../src/store';
import { createMetrics, type Metrics } from '../../src/observability/metrics';
import { SalesforceIntake, type RecordSnapshot } from '../../src/workers/salesforce-intake';
import { defaultSettings } from '../../src/sync/settings';
import { cdcChannel, optOutEvent } from '../../src/salesforce/package-names';
import { normaliseMessage } from '../../src/salesforce/change-normaliser';
import { MessageRejectedError } from '../../src/salesforce/salesforce-errors';
import { applyMutation, badEmails, brokenUnicode, describeMutation, fuzzShares, hugeString, mutationArb, pathsOf, reportFuzzInputs, sampleInputs, type Json, type JsonPath, type Mutation } from './input-mutations';

const integrationUserId = '005000000000009AAA';

/** Records the org holds for the valid events: a Platform Event is a doorbell, and the record's email decides. */
const orgEmails = new Map<string, string>();

/** Salesforce's answer to a re-read: every id gets a record with an email, as the REST query would. */
async function readRecords(objectName: 'Contact' | 'Lead', recordIds: string[]): Promise<RecordSnapshot[]> {
  return recordIds.map((recordId) => ({ recordId, objectName, email: orgEmails.get(recordId) ?? `reread-${recordId.slice(-6)}@example.com`, optedOut: true, lastModified: new Date('2026-01-05T09:00:00Z') }));
}

interface Outcome {
  input: string;
  mutation: string;
  mutatedPath: string;
  quarantined: boolean;
}

/** CDC seeds: every Salesforce fixture, shaped as Contact/Lead events where the fixture is of another object. */
function changeEventSeeds(): Json[] {
  const fromFixtures = listFixtures('salesforce')
    .filter((f) => f.startsWith('cdc-') && f.endsWith('.json'))
    .map((f) => {
      const raw = readFixtureJson(`salesforce/${f}`) as Record<string, Json>;
      // The CDC guide's examples are the bare `data` object; Message Durability's carry the envelope.
      const message = 'data' in raw ? raw : { data: raw };
      return { ...message, channel: cdcChannel.channel } as Json;
    });
  return [
    ...fromFixtures,
    cdcUpdateMessage({}) as unknown as Json,
    cdcUpdateMessage({ entityName: 'Lead', recordIds: ['00Q000000000001AAA', '00Q000000000002AAA'] }) as unknown as Json,
    cdcUpdateMessage({ changeType: 'GAP_UPDATE' }) as unknown as Json,
    cdcCreateMessage('Contact', { HasOptedOutOfEmail: true }) as unknown as Json,
    cdcCreateMessage('Lead', { HasOptedOutOfEmail: true }, 'UNDELETE') as unknown as Json,
    cdcDeleteMessage() as unknown as Json,
  ];
}

function platformEventSeeds(): Json[] {
  const lowInk = readFixtureJson('salesforce/pe-cometd-low-ink__message-durability-v67.json') as Record<string, Json>;
  return [{ ...lowInk, channel: optOutEvent.channel }, relayEventMessage() as unknown as Json, relayEventMessage({ [optOutEvent.fields.source]: 'FLOW', [optOutEvent.fields.objectName]: 'Contact', [optOutEvent.fields.recordId]: '003000000000001' }) as unknown as Json];
}

const headerPath: JsonPath = ['data', 'payload', 'ChangeEventHeader'];
const tenThousandIds = Array.from({ length: 10_000 }, (_, i) => `003${String(i).padStart(12, '0')}AAA`);

/** Inputs for one channel: sampled mutations of its seeds, plus the issue's named cases. */
function inputsFor(seeds: Json[], count: number, seed: number): { raw: Json | undefined; mutation: Mutation; seedIndex: number }[] {
  const extraValues: Json[] = ['UPSERT', 'update', 'GAP_SOMETHING', '', ...badEmails, ...brokenUnicode, hugeString(1_000_000)];
  const arb = fc.nat(seeds.length - 1).chain((seedIndex) => mutationArb(seeds[seedIndex]!, { values: extraValues }).map((mutation) => ({ mutation, seedIndex })));
  return sampleInputs(arb, count, seed).map(({ mutation, seedIndex }) => ({ raw: applyMutation(seeds[seedIndex]!, mutation), mutation, seedIndex }));
}

/** The path a rejection reason names ("message rejected at a.b.c: ..."), '' for the root. */
function rejectedPath(reason: string): string | null {
  const match = /^message rejected at (\S+?): /.exec(reason);
  if (match === null) return null;
  return match[1] === '<root>' ? '' : (match[1] ?? '');
}

/** A reason names the right field when it points at the broken node, at one of its parents, or inside it. */
function namesTheField(reported: string, mutated: string): boolean {
  if (reported === '' || mutated === '') return true;
  return mutated === reported || mutated.startsWith(`${reported}.`) || reported.startsWith(`${mutated}.`) || reported === 'channel';
}

describe('fuzzing the CometD intake (CDC and Platform Event) on pglite', () => {
  let database: TestDatabase;
  let store: Store;
  let metrics: Metrics;
  let intake: SalesforceIntake;
  const reconciles: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  let validSeq = 0;

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    database = await openTestDatabase('pglite');
    store = await createStore(database.db, () => new Date(), 'fuzz');
    metrics = createMetrics();
    intake = new SalesforceIntake({
      store,
      settings: () => defaultSettings,
      identity: () => ({ productClientId: 'optout-sync', integrationUserId }),
      readRecords,
      requestReconcile: (objectName, reason) => reconciles.push(`${objectName}: ${reason}`),
      logger: pino({ level: 'silent' }),
      metrics,
    });
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await database.drop();
  });

  async function quarantinedSoFar(): Promise<number> {
    return (await metrics.quarantined.get()).values.reduce((sum, v) => sum + v.value, 0);
  }

  /** A valid opt-out right after a bad input: its email must end up queued. */
  async function sendValid(channel: string): Promise<string> {
    validSeq++;
    const email = `valid-${validSeq}@example.com`;
    const leadId = `00Q${String(validSeq).padStart(12, '0')}`;
    orgEmails.set(leadId, email);
    const message =
      channel === optOutEvent.channel
        ? relayEventMessage({ [optOutEvent.fields.email]: email, [optOutEvent.fields.recordId]: leadId })
        : cdcUpdateMessage({ recordIds: [`003${String(validSeq).padStart(12, '0')}AAA`], fields: { Email: email } });
    // A new change has a new commit time (a redelivery of an already-queued change is dropped by design).
    const header = (message.data as { payload: { ChangeEventHeader?: { commitTimestamp?: number } } }).payload.ChangeEventHeader;
    if (header !== undefined) header.commitTimestamp = Date.UTC(2026, 0, 1) + validSeq * 1000;
    await intake.handleMessage(channel, message, `valid-${validSeq}`);
    return email;
  }

  async function run(channel: string, inputs: { raw: Json | undefined; mutation: Mutation }[]): Promise<{ outcomes: Outcome[]; crashes: string[]; validEmails: string[] }> {
    const outcomes: Outcome[] = [];
    const crashes: string[] = [];
    const validEmails: string[] = [];
    let previousReplayId = '1';
    for (const [index, { raw, mutation }] of inputs.entries()) {
      // Duplicated replay ids: every fifth input reuses the one before.
      const replayId = index % 5 === 0 ? previousReplayId : String(1000 + index);
      previousReplayId = replayId;
      const before = await quarantinedSoFar();
      try {
        await intake.handleMessage(channel, raw, replayId);
      } catch (error) {
        crashes.push(`${describeMutation(mutation)}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`.slice(0, 400));
      }
      outcomes.push({ input: JSON.stringify(raw)?.slice(0, 200) ?? 'undefined', mutation: describeMutation(mutation), mutatedPath: mutation.path.join('.'), quarantined: (await quarantinedSoFar()) > before });
      validEmails.push(await sendValid(channel));
    }
    return { outcomes, crashes, validEmails };
  }

  async function expectAllQueued(emails: string[]): Promise<void> {
    const result = await store.db.query(`SELECT subject FROM jobs WHERE kind = 'push-email' AND subject = ANY($1::text[])`, [emails]);
    const queued = new Set(result.rows.map((r) => String((r as { subject: unknown }).subject)));
    expect(emails.filter((e) => !queued.has(e))).toEqual([]);
  }

  /**
   * A seed that the channel already rejects unmutated (the vendor's Low_Ink__e example on the opt-out event's channel)
   * is reported at its first invalid field whatever else a mutation breaks: that field is a right answer too.
   */
  function alreadyRejectedAt(channel: string, seeds: Json[]): Set<string> {
    const paths = new Set<string>();
    for (const seed of seeds) {
      try {
        normaliseMessage(channel, seed, { productClientId: 'fuzz', integrationUserId: null });
      } catch (error) {
        if (error instanceof MessageRejectedError) paths.add(error.path);
      }
    }
    return paths;
  }

  async function expectReasonsNameTheField(outcomes: Outcome[], source: string, alsoRight: Set<string> = new Set()): Promise<void> {
    const rows = (await store.quarantine.list(100_000)).filter((r) => r.source === source).reverse();
    const quarantined = outcomes.filter((o) => o.quarantined);
    expect(rows.length).toBe(quarantined.length);
    const wrong = quarantined
      .map((o, i) => ({ o, reason: rows[i]?.reason ?? '' }))
      .filter(({ o, reason }) => {
        const reported = rejectedPath(reason);
        return reported === null || (!namesTheField(reported, o.mutatedPath) && !alsoRight.has(reported));
      })
      .map(({ o, reason }) => `${o.mutation} -> ${reason}`);
    expect(wrong).toEqual([]);
  }

  test(`when ${fuzzShares.cometdChangeEvents} mutated CDC messages arrive, then none crashes, each bad one is quarantined naming its field, and the valid opt-out after each is queued`, async () => {
    const seeds = changeEventSeeds();
    const inputs = inputsFor(seeds, fuzzShares.cometdChangeEvents - 3, 8_2026);
    // The issue's named extremes: 10,000 record ids in one merged event (valid, and with one bad id at the end).
    const update = cdcUpdateMessage({}) as unknown as Json;
    const idsPath = [...headerPath, 'recordIds'];
    inputs.push(
      { raw: applyMutation(update, { kind: 'replace', path: idsPath, value: tenThousandIds }), mutation: { kind: 'replace', path: idsPath, value: '10,000 ids' }, seedIndex: -1 },
      { raw: applyMutation(update, { kind: 'replace', path: idsPath, value: [...tenThousandIds, 'not-an-id'] }), mutation: { kind: 'replace', path: idsPath, value: '10,000 ids + 1 bad' }, seedIndex: -1 },
      { raw: applyMutation(update, { kind: 'replace', path: idsPath, value: tenThousandIds.map((id) => id.slice(0, 15)) }), mutation: { kind: 'replace', path: idsPath, value: '10,000 15-char ids' }, seedIndex: -1 },
    );
    const { outcomes, crashes, validEmails } = await run(cdcChannel.channel, inputs);
    reportFuzzInputs('cometd change events', outcomes.length);
    expect(crashes).toEqual([]);
    expect(outcomes.length).toBe(fuzzShares.cometdChangeEvents);
    expect(outcomes.filter((o) => o.quarantined).length).toBeGreaterThan(fuzzShares.cometdChangeEvents / 4);
    await expectReasonsNameTheField(outcomes, `cometd:${cdcChannel.channel}`);
    await expectAllQueued(validEmails);
    expect(unhandled).toEqual([]);
    // Every path of every seed was broken at least once.
    const broken = new Set(outcomes.map((o) => o.mutatedPath));
    const seedPaths = seeds.flatMap((s) => pathsOf(s).map((p) => p.join('.')));
    expect(seedPaths.filter((p) => !broken.has(p)).length).toBeLessThan(seedPaths.length / 10);
  }, 60_000);

  test(`when ${fuzzShares.platformEvents} mutated OptOut_Change__e events arrive, then none crashes, each bad one is quarantined naming its field, and the valid opt-out after each is queued`, async () => {
    const seeds = platformEventSeeds();
    const inputs = inputsFor(seeds, fuzzShares.platformEvents, 8_2027);
    const { outcomes, crashes, validEmails } = await run(optOutEvent.channel, inputs);
    reportFuzzInputs('platform events', outcomes.length);
    expect(crashes).toEqual([]);
    expect(outcomes.length).toBe(fuzzShares.platformEvents);
    expect(outcomes.filter((o) => o.quarantined).length).toBeGreaterThan(fuzzShares.platformEvents / 4);
    await expectReasonsNameTheField(outcomes, `cometd:${optOutEvent.channel}`, alreadyRejectedAt(optOutEvent.channel, seeds));
    await expectAllQueued(validEmails);
    expect(unhandled).toEqual([]);
  }, 60_000);
});
