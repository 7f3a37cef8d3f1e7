// Issue 16 item 6: R1 applies to a record's current email. An opted-out record that gets a new address leaves the
// new address unsubscribed everywhere; the old address is left as it is (R2: nothing undoes an opt-out in AC).
import { engines } from '../support/test-databases';
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { readyApp } from '../support/sandbox-queries';
import { patchRecord } from '../support/salesforce-user';
import { waitFor } from '../support/wait-for';

describe.each(engines)('email changes on %s', (engine) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox(engine);
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when an opted-out Contact gets a new email, then the new address is unsubscribed from every list and the old one is left alone', async () => {
    const { sf, ac } = sandbox;
    const news = ac.createList('Moves news');
    const offers = ac.createList('Moves offers');
    ac.createContact('old.address@example.com', { lists: { [news.id]: 2 } });
    ac.createContact('new.address@example.com', { lists: { [news.id]: 1, [offers.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Mover', Email: 'old.address@example.com', HasOptedOutOfEmail: true }).Id);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await patchRecord(sf, 'Contact', id, { Email: 'new.address@example.com' });
    await waitFor(() => Object.values(ac.contactByEmail('new.address@example.com')!.lists).every((s) => Number(s) === 2), { what: 'the new address unsubscribed everywhere' });
    expect(Number(ac.contactByEmail('old.address@example.com')!.lists[news.id])).toBe(2);
    const history = await waitFor(async () => {
      const entries = (await sandbox.app!.store.audit.historyForEmail('new.address@example.com')).filter((h) => h.decision === 'unsubscribe-list');
      return entries.length === 2 ? entries : undefined;
    }, { what: 'the two unsubscribes audited' });
    expect(history.every((h) => h.recordId === id)).toBe(true);
  }, 30_000);

  test('when an opted-in Contact gets a new email, then nothing happens in ActiveCampaign', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Moves in');
    ac.createContact('in.new@example.com', { lists: { [list.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Stayer', Email: 'in.old@example.com', HasOptedOutOfEmail: false }).Id);
    const writesBefore = ac.requestLog.filter((r) => r.method === 'POST').length;
    await patchRecord(sf, 'Contact', id, { Email: 'in.new@example.com' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(Number(ac.contactByEmail('in.new@example.com')!.lists[list.id])).toBe(1);
    expect(ac.requestLog.filter((r) => r.method === 'POST').length).toBe(writesBefore);
  }, 30_000);
});
