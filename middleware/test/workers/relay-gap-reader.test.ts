// What the package's Apex relay could not relay (OptOutSync_Audit__c rows with Result__c RELAY_GAP) is re-read by
// the middleware over loopback HTTP against the Salesforce emulator, queued as gap reads with a real store (PGlite),
// and marked read so that the next run does not read it again.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import pino from 'pino';
import { z } from 'zod';
import { startHarness, jwtSession, type Harness } from '../salesforce/emulator-harness';
import { openTestDatabase, type TestDatabase } from '../support/test-databases';
import { createStore, type Store } from '../../src/store';
import { createMetrics } from '../../src/observability/metrics';
import { SalesforceRestClient } from '../../src/salesforce/salesforce-rest';
import { SalesforceIntake, type RecordSnapshot } from '../../src/workers/salesforce-intake';
import { RelayGapReader } from '../../src/workers/relay-gap-reader';
import { defaultSettings } from '../../src/sync/settings';
import { pushJobKind } from '../../src/sync/push-job';
import { auditObject } from '../../src/salesforce/package-names';

const logger = pino({ level: 'silent' });
const jobRow = z.object({ subject: z.string(), payload: z.object({ optOutPending: z.boolean(), latestOptedOut: z.boolean(), sources: z.array(z.string()) }).loose() });

describe('relay gap reader', () => {
  let harness: Harness;
  let database: TestDatabase;
  let store: Store;
  let rest: SalesforceRestClient;
  let reconciles: string[];
  let reader: RelayGapReader;

  beforeEach(async () => {
    // One org per test: the rows a test leaves must not be another test's input.
    harness = await startHarness();
    rest = new SalesforceRestClient(jwtSession(harness));
    database = await openTestDatabase('pglite');
    store = await createStore(database.db, () => new Date(), 'relay-gap-test');
    reconciles = [];
    const readRecords = async (objectName: 'Contact' | 'Lead', recordIds: string[]): Promise<RecordSnapshot[]> => {
      const schema = z.object({ Id: z.string(), Email: z.string().nullable(), HasOptedOutOfEmail: z.boolean(), LastModifiedDate: z.string() });
      const rows = await rest.query(`SELECT Id, Email, HasOptedOutOfEmail, LastModifiedDate FROM ${objectName} WHERE Id IN (${recordIds.map((id) => `'${id}'`).join(',')})`, schema);
      return rows.map((r) => ({ recordId: r.Id, objectName, email: r.Email, optedOut: r.HasOptedOutOfEmail, lastModified: new Date(r.LastModifiedDate) }));
    };
    const intake = new SalesforceIntake({ store, settings: () => defaultSettings, identity: () => ({ productClientId: 'OptOutSync', integrationUserId: null }), readRecords, requestReconcile: () => undefined, logger, metrics: createMetrics() });
    reader = new RelayGapReader({
      store,
      rest,
      intake,
      readRecords,
      recordReconcile: async (objectName) => {
        reconciles.push(objectName);
      },
      logger,
    });
  });
  afterEach(async () => {
    await database.drop();
    await harness.emulator.close();
  });

  /** A row as OptOutChangeEventHandler.writeAudit writes it, as the Automated Process user would. */
  function relayGapRow(recordId: string | null, email: string | null = null): string {
    const row = harness.emulator.insert(auditObject.apiName, { Direction__c: 'SF_TO_AC', Record_Id__c: recordId, Email__c: email, Result__c: 'RELAY_GAP', Reason__c: 'Not relayed: publish refused', Occurred_At__c: new Date().toISOString() }, harness.emulator.users.admin.id);
    return String(row.Id);
  }

  async function queuedJobs() {
    const result = await database.db.query(`SELECT subject, payload FROM jobs WHERE kind = $1 ORDER BY id`, [pushJobKind.name]);
    return result.rows.map((r) => jobRow.parse(r));
  }

  test('an opt-out the relay could not publish is re-read, queued with the record value, and its row marked read', async () => {
    const email = `gap-${Date.now()}@example.com`;
    const contactId = String(harness.emulator.insert('Contact', { LastName: 'Gap', Email: email, HasOptedOutOfEmail: true }, harness.emulator.users.admin.id).Id);
    // The row names the record only: the value the relay saw may be stale; the record decides.
    const rowId = relayGapRow(contactId, 'stale@example.com');

    const summary = await reader.readOnce();

    expect(summary).toMatchObject({ rows: 1, reread: 1, marked: 1, reconciled: [] });
    const jobs = await queuedJobs();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ subject: email, payload: { optOutPending: true, latestOptedOut: true, sources: ['GAP'] } });
    expect(harness.emulator.get(auditObject.apiName, rowId)?.Result__c).toBe(auditObject.results.relayGapRead);

    // Handled rows are not read again.
    expect(await reader.readOnce()).toMatchObject({ rows: 0, reread: 0 });
    expect(await queuedJobs()).toHaveLength(1);
  });

  test('a gap read of a value already known records no change time (R5 recency only from real changes)', async () => {
    const email = `known-${Date.now()}@example.com`;
    const contactId = String(harness.emulator.insert('Contact', { LastName: 'Known', Email: email, HasOptedOutOfEmail: false }, harness.emulator.users.admin.id).Id);
    const knownAt = new Date('2025-06-01T00:00:00Z');
    await store.links.recordObservations([{ recordId: contactId, objectName: 'Contact', email, optedOut: false, changedAt: knownAt }]);
    relayGapRow(contactId);

    await reader.readOnce();

    const last = (await store.links.lastObserved([contactId])).get(contactId);
    expect(last?.optedOut).toBe(false);
    expect(last?.changedAt?.toISOString()).toBe(knownAt.toISOString());
  });

  test('a wildcard or a row without a record id becomes a durable whole-object reconcile', async () => {
    const leadWildcard = relayGapRow('00Q*');
    const unknown = relayGapRow(null);

    const summary = await reader.readOnce();

    expect(summary.rows).toBe(2);
    expect([...reconciles].sort()).toEqual(['Contact', 'Lead']);
    expect(harness.emulator.get(auditObject.apiName, leadWildcard)?.Result__c).toBe('RELAY_GAP_READ');
    expect(harness.emulator.get(auditObject.apiName, unknown)?.Result__c).toBe('RELAY_GAP_READ');
  });

  test('a relay storm of more rows than one page is read in one run, each row marked once', async () => {
    // 4,500 rows: what one run of the relay leaves when the bus refuses nearly all of its 4,900 events.
    const contactId = String(harness.emulator.insert('Contact', { LastName: 'Storm', Email: `storm-${Date.now()}@example.com`, HasOptedOutOfEmail: true }, harness.emulator.users.admin.id).Id);
    const rows = [relayGapRow(contactId), ...Array.from({ length: 4499 }, () => relayGapRow('003*'))];

    const summary = await reader.readOnce();

    expect(summary).toMatchObject({ rows: 4500, marked: 4500, reconciled: ['Contact'] });
    expect(rows.filter((id) => harness.emulator.get(auditObject.apiName, id)?.Result__c !== 'RELAY_GAP_READ')).toEqual([]);
    expect(await reader.readOnce()).toMatchObject({ rows: 0 });
  });

  test('rows of other results (the relay errors an admin fixes, the decisions) are left alone', async () => {
    const row = harness.emulator.insert(auditObject.apiName, { Direction__c: 'SF_TO_AC', Result__c: 'RELAY_ERROR', Reason__c: 'opt-out field missing' }, harness.emulator.users.admin.id);
    expect(await reader.readOnce()).toMatchObject({ rows: 0 });
    expect(harness.emulator.get(auditObject.apiName, String(row.Id))?.Result__c).toBe('RELAY_ERROR');
  });

  test('a failed re-read leaves the rows for the next run', async () => {
    const contactId = String(harness.emulator.insert('Contact', { LastName: 'Later', Email: `later-${Date.now()}@example.com`, HasOptedOutOfEmail: true }, harness.emulator.users.admin.id).Id);
    const rowId = relayGapRow(contactId);
    harness.emulator.setObjectAccess('Contact', 'none');
    try {
      await expect(reader.readOnce()).rejects.toThrow();
    } finally {
      harness.emulator.setObjectAccess('Contact', 'edit');
    }
    expect(harness.emulator.get(auditObject.apiName, rowId)?.Result__c).toBe('RELAY_GAP');
    expect(await reader.readOnce()).toMatchObject({ rows: 1, reread: 1, marked: 1 });
  });
});
