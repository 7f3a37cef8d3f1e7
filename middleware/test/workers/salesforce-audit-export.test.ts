// The middleware's decisions reach the org's OptOutSync_Audit__c over loopback HTTP, as the Audit_Level__c setting
// chooses, in sObject Collections of 200, behind a cursor (a real store on PGlite).
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import pino from 'pino';
import { startHarness, jwtSession, type Harness } from '../salesforce/emulator-harness';
import { openTestDatabase, type TestDatabase } from '../support/test-databases';
import { createStore, type Store } from '../../src/store';
import type { AuditEntry } from '../../src/store/audit-log';
import { SalesforceRestClient } from '../../src/salesforce/salesforce-rest';
import { SalesforceAuditExport } from '../../src/workers/salesforce-audit-export';
import { defaultSettings, settingsFromRecord, type AuditLevel } from '../../src/sync/settings';
import { auditObject } from '../../src/salesforce/package-names';

const logger = pino({ level: 'silent' });

const written = (i: number): AuditEntry => ({ direction: 'ac_to_sf', email: `w${i}@example.com`, recordId: `003000000000${String(i).padStart(3, '0')}AAA`, oldValue: 'false', newValue: 'true', decision: 'update-salesforce', reason: 'R3: unsubscribed from all ActiveCampaign lists', result: 'written' });
const failed = (i: number): AuditEntry => ({ direction: 'ac_to_sf', email: `f${i}@example.com`, recordId: null, decision: 'dead-letter', reason: 'R3: Salesforce refuses this Contact', result: 'FIELD_CUSTOM_VALIDATION_EXCEPTION: x' });
const skipped = (i: number): AuditEntry => ({ direction: 'sf_to_ac', email: `s${i}@example.com`, decision: 'skip', reason: 'the record has no email', result: 'nothing to do' });

describe('audit export to Salesforce', () => {
  let harness: Harness;
  let database: TestDatabase;
  let store: Store;
  let level: AuditLevel;
  let exporter: SalesforceAuditExport;

  beforeEach(async () => {
    harness = await startHarness();
    database = await openTestDatabase('pglite');
    store = await createStore(database.db, () => new Date(), 'audit-export-test');
    level = defaultSettings.auditLevel;
    exporter = new SalesforceAuditExport({ store, rest: new SalesforceRestClient(jwtSession(harness)), settings: () => ({ ...defaultSettings, auditLevel: level }), logger });
  });
  afterEach(async () => {
    await database.drop();
    await harness.emulator.close();
  });

  const orgRows = () => harness.emulator.query(`SELECT Direction__c, Email__c, Record_Id__c, Reason__c, Result__c FROM ${auditObject.apiName}`);
  const insertCalls = () => harness.emulator.requestLog.filter((e) => e.method === 'POST' && e.path.endsWith('/composite/sobjects')).length;

  test('the setting defaults to failures only, and the org record can choose another level', () => {
    expect(defaultSettings.auditLevel).toBe('FAILURES');
    expect(settingsFromRecord({ Audit_Level__c: 'ALL' }).auditLevel).toBe('ALL');
    expect(settingsFromRecord({ Audit_Level__c: null }).auditLevel).toBe('FAILURES');
    expect(() => settingsFromRecord({ Audit_Level__c: 'SOME' })).toThrow();
  });

  test('the first run starts from now: the history stays in the middleware', async () => {
    await store.audit.record([failed(1), failed(2)]);
    expect(await exporter.exportOnce()).toEqual({ looked: 0, sent: 0, refused: 0 });
    expect(orgRows()).toHaveLength(0);
  });

  test('failures only by default; Salesforce changes adds the writes; all sends everything, 200 a call', async () => {
    await exporter.exportOnce();
    await store.audit.record([failed(1), written(1), skipped(1)]);
    expect(await exporter.exportOnce()).toMatchObject({ looked: 3, sent: 1 });
    expect(orgRows()).toEqual([expect.objectContaining({ Direction__c: 'AC_TO_SF', Email__c: 'f1@example.com', Result__c: 'DEAD_LETTER: FIELD_CUSTOM_VALIDATION_EXCEPTION: x' })]);

    level = 'SALESFORCE_CHANGES';
    await store.audit.record([failed(2), written(2), skipped(2)]);
    expect(await exporter.exportOnce()).toMatchObject({ looked: 3, sent: 2 });
    expect(orgRows().map((r) => r.Email__c)).toEqual(['f1@example.com', 'f2@example.com', 'w2@example.com']);
    expect(orgRows()[2]).toMatchObject({ Record_Id__c: '003000000000002AAA', Reason__c: 'update-salesforce: R3: unsubscribed from all ActiveCampaign lists' });

    level = 'ALL';
    const before = insertCalls();
    await store.audit.record(Array.from({ length: 450 }, (_, i) => skipped(100 + i)));
    expect(await exporter.exportOnce()).toMatchObject({ looked: 450, sent: 450 });
    expect(insertCalls() - before).toBe(3);
    // Nothing is sent twice.
    expect(await exporter.exportOnce()).toMatchObject({ looked: 0, sent: 0 });
    expect(orgRows()).toHaveLength(453);
  });

  test('a failed write and a dead letter reach the org beginning FAILED and DEAD_LETTER, which the app page lists', async () => {
    await exporter.exportOnce();
    await store.audit.record([
      { ...written(1), result: 'failed: 003000000000001AAA UNABLE_TO_LOCK_ROW unable to obtain exclusive access' },
      failed(2),
    ]);
    expect(await exporter.exportOnce()).toMatchObject({ looked: 2, sent: 2 });
    expect(orgRows().map((r) => r.Result__c)).toEqual(['FAILED: 003000000000001AAA UNABLE_TO_LOCK_ROW unable to obtain exclusive access', 'DEAD_LETTER: FIELD_CUSTOM_VALIDATION_EXCEPTION: x']);
  });

  test('when the org daily API limit runs out mid-export, then what was sent stays sent and the rest follows once there is room, none twice', async () => {
    level = 'ALL';
    await exporter.exportOnce();
    await store.audit.record(Array.from({ length: 450 }, (_, i) => skipped(i)));
    // Room for exactly one more call: the first Collections call of 200 is answered, the second refused.
    harness.emulator.setApiLimit({ max: harness.emulator.apiUsage().used + 1, enforce: true });
    await expect(exporter.exportOnce()).rejects.toThrow(/REQUEST_LIMIT_EXCEEDED/);
    expect(orgRows()).toHaveLength(200);

    harness.emulator.setApiLimit({ max: 1_000_000 });
    expect(await exporter.exportOnce()).toMatchObject({ looked: 250, sent: 250 });
    const emails = orgRows().map((r) => r.Email__c);
    expect(emails).toHaveLength(450);
    expect(new Set(emails).size).toBe(450);
  });

  test('without the package there is nowhere to copy to: the cursor moves on and nothing waits', async () => {
    await exporter.exportOnce();
    harness.emulator.setPackageInstalled(false);
    await store.audit.record([failed(1)]);
    expect(await exporter.exportOnce()).toMatchObject({ looked: 1, sent: 0 });
    harness.emulator.setPackageInstalled(true);
    expect(await exporter.exportOnce()).toMatchObject({ looked: 0 });
  });
});
