// R7: optional scopes. Store-independent behaviour, so one engine is enough here.
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { patchRecord } from '../support/salesforce-user';
import { isOptedOut, readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

describe('scope (R7)', () => {
  let sandbox: Sandbox;
  let list: { id: string };

  beforeAll(async () => {
    sandbox = await startSandbox('pglite');
    list = sandbox.ac.createList('News');
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  /** An admin using the API shares the account's 5 requests/s with the middleware: wait out a 429 like a client would. */
  async function acApi(method: string, path: string, body?: unknown): Promise<unknown> {
    return waitFor(async () => {
      const response = await fetch(`${sandbox.ac.url}/api/3${path}`, { method, headers: { 'Api-Token': sandbox.ac.apiToken, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return response.status === 429 ? undefined : ((await response.json()) as unknown);
    }, { what: `${method} ${path}`, intervalMs: 250 });
  }

  test('when a Campaign scope is set, then only records in those Campaigns are synced, in both directions', async () => {
    const { sf, ac } = sandbox;
    const campaign = sf.insert('Campaign', { Name: 'Newsletter' });
    const inside = sf.insert('Contact', { LastName: 'In', Email: 'in@example.com', HasOptedOutOfEmail: false });
    const outside = sf.insert('Contact', { LastName: 'Out', Email: 'out@example.com', HasOptedOutOfEmail: false });
    sf.insert('CampaignMember', { CampaignId: campaign.Id, ContactId: inside.Id });
    ac.createContact('in@example.com', { lists: { [list.id]: 1 } });
    ac.createContact('out@example.com', { lists: { [list.id]: 1 } });
    ac.createContact('pull-out@example.com', { lists: { [list.id]: 1 } });
    const pullOutside = sf.insert('Contact', { LastName: 'PullOut', Email: 'pull-out@example.com', HasOptedOutOfEmail: false });
    await sandbox.app!.pollNow();
    sf.setCustomMetadata('OptOutSync_Settings__mdt', 'Default', { Scope_Campaign_Ids__c: String(campaign.Id), Event_Mode__c: 'CDC' });
    await sandbox.app!.settings.refresh();
    try {
      await patchRecord(sf, 'Contact', String(inside.Id), { HasOptedOutOfEmail: true });
      await patchRecord(sf, 'Contact', String(outside.Id), { HasOptedOutOfEmail: true });
      await waitFor(() => Number(ac.contactByEmail('in@example.com')?.lists[list.id]) === 2, { what: 'in-scope record pushed' });
      await waitFor(async () => (await sandbox.app!.store.audit.historyForEmail('out@example.com')).some((a) => a.result === 'out of scope'), { what: 'out-of-scope audit' });
      expect(Number(ac.contactByEmail('out@example.com')?.lists[list.id])).toBe(1);
      ac.unsubscribe('pull-out@example.com', 'all');
      await waitFor(async () => (await sandbox.app!.store.audit.historyForEmail('pull-out@example.com')).some((a) => a.decision === 'queue-salesforce-update'), { what: 'pull detected' });
      await waitFor(async () => (await sandbox.app!.store.jobs.counts()).length === 0, { what: 'queue drained' });
      expect(isOptedOut(sandbox, 'Contact', String(pullOutside.Id))).toBe(false);
    } finally {
      sf.setCustomMetadata('OptOutSync_Settings__mdt', 'Default', { Scope_Campaign_Ids__c: null });
      await sandbox.app!.settings.refresh();
    }
  });

  test('when an AC tag scope is set, then contacts without the tag are left alone in both directions', async () => {
    const { sf, ac } = sandbox;
    ac.createContact('tagged@example.com', { lists: { [list.id]: 1 } });
    ac.createContact('untagged@example.com', { lists: { [list.id]: 1 } });
    const tag = (await acApi('POST', '/tags', { tag: { tag: 'salesforce-sync', tagType: 'contact', description: '' } })) as { tag: { id: string } };
    await acApi('POST', '/contactTags', { contactTag: { contact: ac.contactByEmail('tagged@example.com')!.id, tag: tag.tag.id } });
    const tagged = sf.insert('Contact', { LastName: 'Tagged', Email: 'tagged@example.com', HasOptedOutOfEmail: false });
    const untagged = sf.insert('Lead', { LastName: 'Untagged', Company: 'Co', Email: 'untagged@example.com', HasOptedOutOfEmail: false });
    await sandbox.app!.pollNow();
    sf.setCustomMetadata('OptOutSync_Settings__mdt', 'Default', { Scope_AC_Tag__c: 'salesforce-sync', Event_Mode__c: 'CDC' });
    await sandbox.app!.settings.refresh();
    try {
      await patchRecord(sf, 'Contact', String(tagged.Id), { HasOptedOutOfEmail: true });
      await patchRecord(sf, 'Lead', String(untagged.Id), { HasOptedOutOfEmail: true });
      await waitFor(() => Number(ac.contactByEmail('tagged@example.com')?.lists[list.id]) === 2, { what: 'tagged contact unsubscribed' });
      await waitFor(async () => (await sandbox.app!.store.audit.historyForEmail('untagged@example.com')).some((a) => a.result === 'out of scope'), { what: 'untagged skipped' });
      expect(Number(ac.contactByEmail('untagged@example.com')?.lists[list.id])).toBe(1);
    } finally {
      sf.setCustomMetadata('OptOutSync_Settings__mdt', 'Default', { Scope_AC_Tag__c: null });
      await sandbox.app!.settings.refresh();
    }
  });
});
