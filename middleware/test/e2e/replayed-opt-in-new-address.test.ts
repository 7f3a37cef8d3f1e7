// On restart the stream replays the last event handled, and a change under another address than the one observed is
// never taken for a redelivery (salesforce-intake withoutRedeliveries). A replayed opt-in must not name the address
// the record moved to while the middleware was down: with Resubscribe_On_Opt_In__c that address would be re-subscribed
// to the lists this product unsubscribed for another record's opt-out, though nobody with it asked. (Outside review:
// the product's channel carries the Email as it was at the change, so the replay names the old address and is
// dropped; a channel without Email would be filled with the current one.)
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { patchRecord } from '../support/salesforce-user';
import { readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

const settingsType = 'OptOutSync_Settings__mdt';
const settings = { Opt_Out_Field__c: 'HasOptedOutOfEmail', Push_Enabled__c: true, Pull_Enabled__c: true, Resubscribe_On_Opt_In__c: true, Hard_Bounce_Opts_Out__c: true, Event_Mode__c: 'CDC' };

describe('a replayed opt-in of a record that moved to another address while the middleware was down (pglite)', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox('pglite', { persistent: true });
    sandbox.sf.setCustomMetadata(settingsType, 'Default', settings);
    await sandbox.startApp();
    await readyApp(sandbox);
    expect((await sandbox.app!.settings.refresh()).resubscribeOnOptIn).toBe(true);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  const queuesEmpty = () => waitFor(async () => (await sandbox.app!.store.jobs.counts()).every((c) => c.state === 'dead' || c.n === 0), { what: 'queues empty', timeoutMs: 20_000 });

  test('when the replay names the new address, then that address is not re-subscribed', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Newsletter');
    const taken = 'taken@example.com';
    ac.createContact(taken, { lists: { [list.id]: 1 } });
    // Another record had the address and opted out: this product unsubscribed it; that record then moved on (R2: the
    // address it leaves stays unsubscribed).
    const previous = String(sf.insert('Contact', { LastName: 'Previous', Email: taken, HasOptedOutOfEmail: false }).Id);
    await patchRecord(sf, 'Contact', previous, { HasOptedOutOfEmail: true });
    await waitFor(() => Number(ac.contactByEmail(taken)?.lists[list.id]) === 2, { what: 'the address unsubscribed' });
    await patchRecord(sf, 'Contact', previous, { Email: 'previous.elsewhere@example.com' });
    await queuesEmpty();
    // A record under another address opts in: the last event handled before the stop.
    const mover = String(sf.insert('Contact', { LastName: 'Mover', Email: 'mover.old@example.com', HasOptedOutOfEmail: true }).Id);
    await queuesEmpty();
    await patchRecord(sf, 'Contact', mover, { HasOptedOutOfEmail: false });
    await waitFor(async () => (await sandbox.app!.store.audit.historyForEmail('mover.old@example.com')).some((h) => h.decision === 'opt-in'), { what: 'the opt-in handled' });
    await queuesEmpty();
    await sandbox.stopApp();
    await patchRecord(sf, 'Contact', mover, { Email: taken });
    await sandbox.startApp();
    await readyApp(sandbox);
    await queuesEmpty();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await queuesEmpty();
    expect(Number(ac.contactByEmail(taken)?.lists[list.id])).toBe(2);
  }, 90_000);
});
