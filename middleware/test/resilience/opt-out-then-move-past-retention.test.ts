// Outside review of the downtime paths around the first checkpoint.
// 1. A run stopped before the channel's first event stores no checkpoint; the next start subscribed at -1 again (new
//    events only) and an opt-out made while it was down waited for the nightly reconciliation. Fixed: each run's first
//    subscribe with no checkpoint leaves a durable mark, and a later run still without one reconciles from it.
// 2. A record opted out under its address A and then moved to B while the middleware was down past the event
//    retention: the stream-gap reconcile reads only the current state (opted out, Email B), so B was unsubscribed but
//    A, the address under which the person opted out, never was (the stream would have). Decided: a read that finds
//    an opt-out we never saw together with a move cannot order the two, and in doubt the opt-out wins: R1 for the
//    address we last knew too (intake dateReads).
import { testSecrets, type Sandbox } from '../support/sandbox-harness';
import { readySandboxPerSuite } from '../support/sandbox-suite';
import { patchRecord } from '../support/salesforce-user';
import { waitFor } from '../support/wait-for';

describe('downtime before and after the first checkpoint (pglite)', () => {
  const sandboxOf = readySandboxPerSuite('pglite', { persistent: true, sf: { settings: { Event_Mode__c: 'CDC' } } });
  const queuesEmpty = (sandbox: Sandbox) => waitFor(async () => (await sandbox.app!.store.jobs.counts()).every((c) => c.state === 'dead' || c.n === 0), { what: 'queues empty' });

  test('when the middleware is stopped before any event was handled and an opt-out is made while it is down, then the opt-out reaches AC', async () => {
    const sandbox = sandboxOf();
    const { sf, ac } = sandbox;
    const list = ac.createList('Before first event');
    const email = 'quiet.start@example.com';
    ac.createContact(email, { lists: { [list.id]: 1 } });
    const person = String(sf.insert('Contact', { LastName: 'Quiet', Email: email, HasOptedOutOfEmail: false }).Id);
    // The creation is not part of the story (as if made before the install).
    sf.purgeEvents();
    expect(await sandbox.app!.store.replay.resumePoint('/data/OptOutSync__chn')).toBeNull();
    await sandbox.stopApp();
    await patchRecord(sf, 'Contact', person, { HasOptedOutOfEmail: true });
    await sandbox.startApp();
    await waitFor(() => Number(ac.contactByEmail(email)?.lists[list.id]) === 2, { what: 'the opt-out made while down applied', timeoutMs: 30_000 });
    await queuesEmpty(sandbox);
  }, 60_000);

  test('when an opt-out and then a move of the record were purged from the stream, then the address the person opted out under is unsubscribed too', async () => {
    const sandbox = sandboxOf();
    const { sf, ac } = sandbox;
    const list = ac.createList('Outage');
    const oldEmail = 'outage.old@example.com';
    const newEmail = 'outage.new@example.com';
    ac.createContact(oldEmail, { lists: { [list.id]: 1 } });
    ac.createContact(newEmail, { lists: { [list.id]: 1 } });
    const person = String(sf.insert('Contact', { LastName: 'Outage', Email: oldEmail, HasOptedOutOfEmail: false }).Id);
    // The product knows the record, opted in under its old address (an admin's resync reads it; in an org, any
    // earlier event of the record does). A record it never observed has no old address to go back to.
    const res = await fetch(`${sandbox.app!.url}/admin/resync-record`, { method: 'POST', headers: { authorization: `Bearer ${testSecrets.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ recordId: person }) });
    expect(res.status).toBe(202);
    await waitFor(async () => (await sandbox.app!.store.links.lastObserved([person])).get(person)?.email === oldEmail, { what: 'the record observed under its old address' });
    await queuesEmpty(sandbox);
    await sandbox.stopApp();
    await patchRecord(sf, 'Contact', person, { HasOptedOutOfEmail: true });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await patchRecord(sf, 'Contact', person, { Email: newEmail });
    sf.purgeEvents();
    await sandbox.startApp();
    await waitFor(() => Number(ac.contactByEmail(newEmail)?.lists[list.id]) === 2, { what: 'the new address unsubscribed by the reconcile', timeoutMs: 30_000 });
    await waitFor(() => Number(ac.contactByEmail(oldEmail)?.lists[list.id]) === 2, { what: 'the address opted out under unsubscribed', timeoutMs: 10_000 });
  }, 90_000);
});
