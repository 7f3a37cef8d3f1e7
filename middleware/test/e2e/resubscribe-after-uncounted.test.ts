// R5 counts the person's own re-subscribe (R5_Subscribe_Sources__c, default public). A subscribe that does not count
// (an AC admin re-adding the person, an import, an automation) still leaves the contact active on that list in AC,
// so a later subscribe is no longer a move from zero active lists.
import { engines } from '../support/test-databases';
import type { Sandbox } from '../support/sandbox-harness';
import { auditedWith, deliveriesAndQueueIdle, readySandboxPerSuite } from '../support/sandbox-suite';
import { isOptedOut } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

describe.each(engines)('the person\'s own subscribe after one that did not count on %s', (engine) => {
  const current = readySandboxPerSuite(engine);
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = current();
  });

  // Decided (issue 16 item 7): R5 is a move from zero active lists to some (ac-transitions.ts and the reference
  // model agree). After a subscribe that did not count, the contact is active in AC already, so a later subscribe by
  // the person to another list is no such move: Salesforce keeps the opt-out (in doubt, the opt-out stays) while AC
  // mails the person on both lists. Counting it would change the rule and the model with it.
  test('when an admin re-adds the person (not counted) and the person then subscribes to another list through a form, then Salesforce keeps the opt-out', async () => {
    const { sf, ac } = sandbox;
    const email = 'readded-then-form@example.com';
    const list = ac.createList('Customers');
    ac.createContact(email, { lists: { [list.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Person', Email: email, HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    ac.unsubscribe(email, 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', id), { what: 'R3' });
    await deliveriesAndQueueIdle(sandbox);
    ac.subscribe(email, list.id, { source: 'admin' });
    await auditedWith(sandbox, email, 'not counted');
    await deliveriesAndQueueIdle(sandbox);
    expect(isOptedOut(sandbox, 'Contact', id)).toBe(true);
    const newsletter = ac.createList('Newsletter');
    ac.subscribe(email, newsletter.id, { source: 'public' });
    await deliveriesAndQueueIdle(sandbox);
    expect(isOptedOut(sandbox, 'Contact', id)).toBe(true);
  }, 60_000);

  test('when a list the admin re-added is left and joined again by an admin, then nothing changes', async () => {
    const { sf, ac } = sandbox;
    const email = 'readded-twice@example.com';
    const list = ac.createList('Partners');
    const other = ac.createList('Partners 2');
    ac.createContact(email, { lists: { [list.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Person', Email: email, HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    ac.unsubscribe(email, 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', id), { what: 'R3' });
    await deliveriesAndQueueIdle(sandbox);
    ac.subscribe(email, list.id, { source: 'admin' });
    await deliveriesAndQueueIdle(sandbox);
    ac.subscribe(email, other.id, { source: 'system' });
    await deliveriesAndQueueIdle(sandbox);
    expect(isOptedOut(sandbox, 'Contact', id)).toBe(true);
  }, 60_000);
});
