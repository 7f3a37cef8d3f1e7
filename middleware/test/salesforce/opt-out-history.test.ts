// The product's reader of the opt-out field's history (salesforce/opt-out-history.ts) against the emulated org's
// ContactHistory/LeadHistory and FieldDefinition, over HTTP.
import { SalesforceRestClient } from '../../src/salesforce/salesforce-rest';
import { createOptOutHistory } from '../../src/salesforce/opt-out-history';
import { jwtSession, startHarness, type Harness } from './emulator-harness';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({});
});
afterAll(async () => {
  await harness.emulator.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('opt-out field history', () => {
  test('when the field is not tracked, then no date is given and the history object is not even asked', async () => {
    harness.emulator.trackFieldHistory('Contact', []);
    const id = String(harness.emulator.insert('Contact', { LastName: 'Untracked', Email: 'untracked@example.com' }).Id);
    harness.emulator.update('Contact', id, { HasOptedOutOfEmail: true });
    const rest = new SalesforceRestClient(jwtSession(harness));
    const queries: string[] = [];
    const history = createOptOutHistory({ rest: { query: (soql, schema) => (queries.push(soql), rest.query(soql, schema)) } });
    expect(await history.lastChanges('Contact', [{ id, optedOut: true }], 'HasOptedOutOfEmail')).toEqual(new Map());
    expect(queries.some((q) => q.includes('ContactHistory'))).toBe(false);
  });

  test('when it is tracked, then the newest change to the value the record holds dates it, and a value the history does not show gives nothing', async () => {
    harness.emulator.trackFieldHistory('Contact', ['HasOptedOutOfEmail']);
    const id = String(harness.emulator.insert('Contact', { LastName: 'Tracked', Email: 'tracked@example.com' }).Id);
    harness.emulator.update('Contact', id, { HasOptedOutOfEmail: true });
    await sleep(1100);
    const optedInAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    harness.emulator.update('Contact', id, { HasOptedOutOfEmail: false });
    await sleep(1100);
    harness.emulator.update('Contact', id, { LastName: 'Tracked later' });
    const history = createOptOutHistory({ rest: new SalesforceRestClient(jwtSession(harness)) });
    const dates = await history.lastChanges('Contact', [{ id, optedOut: false }], 'HasOptedOutOfEmail');
    expect(dates.get(id)?.toISOString()).toBe(optedInAt.toISOString());
    // The record read says opted out, the history's newest row says opted in: a change the history does not show.
    const fresh = createOptOutHistory({ rest: new SalesforceRestClient(jwtSession(harness)) });
    expect(await fresh.lastChanges('Contact', [{ id, optedOut: true }], 'HasOptedOutOfEmail')).toEqual(new Map());
  });

  test('when the integration user may not read the history, then it says so once and gives no dates', async () => {
    harness.emulator.trackFieldHistory('Lead', ['HasOptedOutOfEmail']);
    const id = String(harness.emulator.insert('Lead', { LastName: 'Hidden', Company: 'Co', Email: 'hidden@example.com' }).Id);
    harness.emulator.update('Lead', id, { HasOptedOutOfEmail: true });
    const rest = new SalesforceRestClient(jwtSession(harness));
    const unavailable: string[] = [];
    const history = createOptOutHistory({
      rest: { query: (soql, schema) => (soql.includes('LeadHistory') ? Promise.reject(new Error('INSUFFICIENT_ACCESS')) : rest.query(soql, schema)) },
      onUnavailable: (objectName) => unavailable.push(objectName),
    });
    expect(await history.lastChanges('Lead', [{ id, optedOut: true }], 'HasOptedOutOfEmail')).toEqual(new Map());
    expect(unavailable).toEqual(['Lead']);
  });
});
