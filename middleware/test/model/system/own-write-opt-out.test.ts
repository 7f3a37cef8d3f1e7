// Regression kept from the system model test (shrunk, seeds 1498434858 and -215646193): three Contacts share an
// email; the person left list 1 (R3), joined list 2 (R5), then one Contact is opted out in Salesforce. Our R1 left
// list 2; the R3 that follows must opt out the other two Contacts. It was dated by list 1's old udate (list 2's new
// one not known yet) and lost to the R5 opt-in it followed.
import { engines } from '../../support/test-databases';
import { startSandbox, type Sandbox } from '../../support/sandbox-harness';
import { readyApp } from '../../support/sandbox-queries';
import { patchRecord } from '../../support/salesforce-user';
import { settle } from './settle';

describe.each(engines)('the R3 our own R1 causes on %s', (engine) => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox(engine, { persistent: true });
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when one of three Contacts of an email is opted out after an AC unsubscribe and re-subscribe, then all three end opted out', async () => {
    const [first, second] = [sandbox.ac.createList('First'), sandbox.ac.createList('Second')];
    const ids = ['A', 'B', 'C'].map((name) => String(sandbox.sf.insert('Contact', { LastName: name, Email: 'three@example.com', HasOptedOutOfEmail: false }).Id));
    await settle(sandbox);
    sandbox.ac.subscribe('three@example.com', first.id);
    await settle(sandbox);
    sandbox.ac.unsubscribe('three@example.com', first.id);
    await settle(sandbox);
    expect(ids.map((id) => sandbox.sf.get('Contact', id)?.HasOptedOutOfEmail)).toEqual([true, true, true]);
    sandbox.ac.subscribe('three@example.com', second.id);
    await settle(sandbox);
    expect(ids.map((id) => sandbox.sf.get('Contact', id)?.HasOptedOutOfEmail)).toEqual([false, false, false]);
    await patchRecord(sandbox.sf, 'Contact', ids[2]!, { HasOptedOutOfEmail: true });
    await settle(sandbox);
    expect(sandbox.ac.contactByEmail('three@example.com')?.lists[second.id]).toBe(2);
    expect(ids.map((id) => sandbox.sf.get('Contact', id)?.HasOptedOutOfEmail)).toEqual([true, true, true]);
  }, 60_000);
});
