// Issue 16 item 7: whose re-subscribe in ActiveCampaign opts a Salesforce record back in (R5). Only the person's own
// action counts by default (R5_Subscribe_Sources__c = public), and AC says who acted only in the webhook's
// initiated_from: an admin re-adding someone, or a subscribe whose delivery was lost, leaves the opt-out in place.
import { engines } from '../support/test-databases';
import type { Sandbox } from '../support/sandbox-harness';
import { auditedWith, deliverWebhook, deliveriesAndQueueIdle, readySandboxPerSuite } from '../support/sandbox-suite';
import { isOptedOut } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

describe.each(engines)('whose re-subscribe counts on %s', (engine) => {
  const current = readySandboxPerSuite(engine);
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = current();
  });
  afterEach(async () => {
    sandbox.ac.configure({ webhookDropShare: 0 });
    sandbox.sf.setCustomMetadata('OptOutSync_Settings__mdt', 'Default', { R5_Subscribe_Sources__c: null });
    await sandbox.app!.settings.refresh();
  });

  /** Someone opted out everywhere: unsubscribed from all lists in AC, the Contact opted out by R3. */
  async function optedOutPerson(email: string): Promise<{ id: string; listId: string; contactId: string }> {
    const { sf, ac } = sandbox;
    const list = ac.createList(`List of ${email}`);
    const contact = ac.createContact(email, { lists: { [list.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Person', Email: email, HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    ac.unsubscribe(email, 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', id), { what: `R3 for ${email}` });
    await deliveriesAndQueueIdle(sandbox);
    return { id, listId: list.id, contactId: String(contact.id) };
  }

  test('when the person subscribes again through a form, then the opt-out is unchecked', async () => {
    const { id } = await optedOutPerson('form@example.com');
    const list = sandbox.ac.createList('Newsletter');
    sandbox.ac.subscribe('form@example.com', list.id, { source: 'public' });
    await waitFor(() => !isOptedOut(sandbox, 'Contact', id), { what: 'R5 from the person\'s own subscribe' });
    const [entry] = await auditedWith(sandbox, 'form@example.com', 'queued').then((e) => e.filter((h) => h.reason.startsWith('R5')));
    expect(entry?.reason).toContain('initiated from public');
  }, 60_000);

  test('when an ActiveCampaign admin re-adds the person to a list, then Salesforce keeps the opt-out and the audit says why', async () => {
    const { id, listId } = await optedOutPerson('admin-readd@example.com');
    sandbox.ac.subscribe('admin-readd@example.com', listId, { source: 'admin' });
    const [entry] = await auditedWith(sandbox, 'admin-readd@example.com', 'not counted');
    expect(entry!.reason).toContain('from admin');
    await deliveriesAndQueueIdle(sandbox);
    expect(isOptedOut(sandbox, 'Contact', id)).toBe(true);
  }, 60_000);

  test('when the subscribe\'s delivery is lost, then a poll alone does not opt the person back in (in doubt, the opt-out stays)', async () => {
    const { id, listId } = await optedOutPerson('lost-delivery@example.com');
    sandbox.ac.configure({ webhookDropShare: 1 });
    sandbox.ac.subscribe('lost-delivery@example.com', listId, { source: 'public' });
    await sandbox.app!.pollNow();
    const [entry] = await auditedWith(sandbox, 'lost-delivery@example.com', 'waiting');
    expect(entry!.reason).toContain('R5 waits');
    await deliveriesAndQueueIdle(sandbox);
    expect(isOptedOut(sandbox, 'Contact', id)).toBe(true);
  }, 60_000);

  test('when a poll sees the subscribe before its delivery is processed, then the delivery that comes later still decides', async () => {
    const { id, listId, contactId } = await optedOutPerson('late-delivery@example.com');
    sandbox.ac.configure({ webhookDropShare: 1 });
    sandbox.ac.subscribe('late-delivery@example.com', listId, { source: 'public' });
    await sandbox.app!.pollNow();
    await auditedWith(sandbox, 'late-delivery@example.com', 'waiting');
    expect(isOptedOut(sandbox, 'Contact', id)).toBe(true);
    // The delivery arrives after the poll's read (it was slow on the way).
    expect(await deliverWebhook(sandbox, { type: 'subscribe', initiated_from: 'public', 'contact[id]': contactId, 'contact[email]': 'late-delivery@example.com', list: listId })).toBe(200);
    await waitFor(() => !isOptedOut(sandbox, 'Contact', id), { what: 'R5 once the delivery said who subscribed' });
  }, 60_000);

  test('when a forged public delivery comes beside ActiveCampaign\'s own admin delivery for the same list, then nothing changes', async () => {
    const { id, listId, contactId } = await optedOutPerson('mixed@example.com');
    sandbox.ac.configure({ webhookDropShare: 1 });
    sandbox.ac.subscribe('mixed@example.com', listId, { source: 'admin' });
    expect(await deliverWebhook(sandbox, { type: 'subscribe', initiated_from: 'admin', 'contact[id]': contactId, 'contact[email]': 'mixed@example.com', list: listId })).toBe(200);
    expect(await deliverWebhook(sandbox, { type: 'subscribe', initiated_from: 'public', 'contact[id]': contactId, 'contact[email]': 'mixed@example.com', list: listId })).toBe(200);
    await deliveriesAndQueueIdle(sandbox);
    expect(isOptedOut(sandbox, 'Contact', id)).toBe(true);
  }, 60_000);

  test('when the admin sets R5_Subscribe_Sources__c to "public, unknown", then a subscribe seen only by a poll counts', async () => {
    sandbox.sf.setCustomMetadata('OptOutSync_Settings__mdt', 'Default', { R5_Subscribe_Sources__c: 'public, unknown' });
    await sandbox.app!.settings.refresh();
    const { id, listId } = await optedOutPerson('poll-counts@example.com');
    sandbox.ac.configure({ webhookDropShare: 1 });
    sandbox.ac.subscribe('poll-counts@example.com', listId, { source: 'public' });
    await sandbox.app!.pollNow();
    await waitFor(() => !isOptedOut(sandbox, 'Contact', id), { what: 'R5 from the poll, as the setting allows' });
  }, 60_000);
});
