// Issue 16 item 2: a webhook is a doorbell. The URL's secret is visible to anyone who can list the account's
// webhooks, so a well-formed delivery proves nothing: what ActiveCampaign's records hold (list statuses with their
// sdate/udate, the bounce counter) decides, and times come from those records, never from a delivery's date_time.
import { engines } from '../support/test-databases';
import { testSecrets, type Sandbox } from '../support/sandbox-harness';
import { readySandboxPerSuite } from '../support/sandbox-suite';
import { isOptedOut, salesforceWriteCalls } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

describe.each(engines)('webhooks are doorbells on %s', (engine) => {
  const current = readySandboxPerSuite(engine);
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = current();
  });

  /** A delivery as AC posts it (form-encoded, the documented fields), sent by someone who knows the URL. */
  async function deliver(fields: Record<string, string>): Promise<number> {
    const body = new URLSearchParams({ initiated_from: 'public', initiated_by: 'contact', ...fields }).toString();
    const res = await fetch(`${sandbox.app!.url}/webhooks/activecampaign/${testSecrets.webhookSecret}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    return res.status;
  }

  async function audited(email: string, result: string) {
    return waitFor(async () => {
      const entries = (await sandbox.app!.store.audit.historyForEmail(email)).filter((h) => h.result === result);
      return entries.length > 0 ? entries : undefined;
    }, { what: `an audit "${result}" for ${email}` });
  }

  test('when a forged subscribe with a future date arrives while AC shows the person unsubscribed everywhere, then nothing changes and a later real unsubscribe still counts', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Forged');
    const contact = ac.createContact('forged@example.com', { lists: { [list.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Forged', Email: 'forged@example.com', HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    ac.unsubscribe('forged@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', id), { what: 'R3 from the real unsubscribe' });
    await waitFor(async () => (await sandbox.app!.store.jobs.counts()).every((c) => c.n === 0 || c.state === 'dead'), { what: 'queue idle' });
    const writes = salesforceWriteCalls(sandbox);

    const future = new Date(Date.now() + 30 * 24 * 3600_000).toISOString();
    expect(await deliver({ type: 'subscribe', date_time: future, 'contact[id]': String(contact.id), 'contact[email]': 'forged@example.com', list: list.id })).toBe(200);
    const [entry] = await audited('forged@example.com', 'unconfirmed');
    expect(entry!.reason).toContain('not confirmed');
    await waitFor(async () => (await sandbox.app!.store.webhookInbox.pending(10)).length === 0, { what: 'delivery processed' });
    expect(isOptedOut(sandbox, 'Contact', id)).toBe(true);
    expect(salesforceWriteCalls(sandbox)).toBe(writes);
    // The forged date weighs on nothing: a real subscribe now is a subscribe, dated by AC's sdate.
    ac.subscribe('forged@example.com', list.id);
    await waitFor(() => !isOptedOut(sandbox, 'Contact', id), { what: 'R5 from the real subscribe' });
    ac.unsubscribe('forged@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', id), { what: 'R3 again: the real unsubscribe is not refused as older than a forged date' });
  }, 60_000);

  test('when a stale unsubscribe arrives for a list the person is still active on, then nobody is opted out', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Stale');
    const contact = ac.createContact('stale@example.com', { lists: { [list.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Stale', Email: 'stale@example.com', HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    const writes = salesforceWriteCalls(sandbox);
    expect(await deliver({ type: 'unsubscribe', date_time: new Date().toISOString(), 'contact[id]': String(contact.id), 'contact[email]': 'stale@example.com', list: list.id })).toBe(200);
    await audited('stale@example.com', 'unconfirmed');
    await waitFor(async () => (await sandbox.app!.store.webhookInbox.pending(10)).length === 0, { what: 'delivery processed' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(isOptedOut(sandbox, 'Contact', id)).toBe(false);
    expect(salesforceWriteCalls(sandbox)).toBe(writes);
    expect((await sandbox.app!.store.jobs.counts()).filter((c) => c.kind === 'pull-email' && c.state !== 'dead' && c.n > 0)).toEqual([]);
  }, 30_000);
});
