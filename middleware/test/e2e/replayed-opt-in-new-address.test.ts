// On restart the stream replays the last event handled, and a change under another address than the one observed is
// never taken for a redelivery (salesforce-intake withoutRedeliveries). A replayed opt-in must not name the address
// the record moved to while the middleware was down: with Resubscribe_On_Opt_In__c that address would be re-subscribed
// to the lists this product unsubscribed for another record's opt-out, though nobody with it asked. (Outside review:
// the product's channel carries the Email as it was at the change, so the replay names the old address and is
// dropped; a channel without Email would be filled with the current one.)
import { type Sandbox } from '../support/sandbox-harness';
import { readySandboxPerSuite } from '../support/sandbox-suite';
import { patchRecord } from '../support/salesforce-user';
import { readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

const settings = { Opt_Out_Field__c: 'HasOptedOutOfEmail', Push_Enabled__c: true, Pull_Enabled__c: true, Resubscribe_On_Opt_In__c: true, Hard_Bounce_Opts_Out__c: true, Event_Mode__c: 'CDC' };

describe('a replayed opt-in of a record that moved to another address while the middleware was down (pglite)', () => {
  const sandboxOf = readySandboxPerSuite('pglite', { persistent: true, sf: { settings } });
  beforeAll(async () => {
    expect((await sandboxOf().app!.settings.refresh()).resubscribeOnOptIn).toBe(true);
  });

  const queuesEmpty = (sandbox: Sandbox) => waitFor(async () => (await sandbox.app!.store.jobs.counts()).every((c) => c.state === 'dead' || c.n === 0), { what: 'queues empty', timeoutMs: 20_000 });

  test('when the replay names the new address, then that address is not re-subscribed', async () => {
    const sandbox = sandboxOf();
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
    await queuesEmpty(sandbox);
    // A record under another address opts in: the last event handled before the stop.
    const mover = String(sf.insert('Contact', { LastName: 'Mover', Email: 'mover.old@example.com', HasOptedOutOfEmail: true }).Id);
    await queuesEmpty(sandbox);
    await patchRecord(sf, 'Contact', mover, { HasOptedOutOfEmail: false });
    await waitFor(async () => (await sandbox.app!.store.audit.historyForEmail('mover.old@example.com')).some((h) => h.decision === 'opt-in'), { what: 'the opt-in handled' });
    await queuesEmpty(sandbox);
    await sandbox.stopApp();
    await patchRecord(sf, 'Contact', mover, { Email: taken });
    await sandbox.startApp();
    await readyApp(sandbox);
    await queuesEmpty(sandbox);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await queuesEmpty(sandbox);
    expect(Number(ac.contactByEmail(taken)?.lists[list.id])).toBe(2);
  }, 90_000);
});
