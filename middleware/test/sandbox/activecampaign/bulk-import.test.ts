// Bulk import as AC documents it: 250 contacts per call, one invalid email rejects the batch, asynchronous
// completion reported by /import/info, creates missing contacts, never re-subscribes, per-minute limits.
import { waitFor } from '../../support/wait-for';
import { startActiveCampaignEmulator, type ActiveCampaignEmulator } from '../../../src/sandbox/activecampaign';
import { acCall, at } from './ac-http';

describe('AC emulator bulk import', () => {
  let emu: ActiveCampaignEmulator;
  afterEach(async () => {
    await emu.close();
  });

  const contacts = (n: number, extra: Record<string, unknown> = {}) =>
    Array.from({ length: n }, (_, i) => ({ email: `person${i}@example.com`, ...extra }));

  test('when 251 contacts are sent, then the call is refused with 400 and nothing is queued', async () => {
    emu = await startActiveCampaignEmulator({ importProcessingMs: 10 });
    const answer = await acCall(emu, 'POST', '/import/bulk_import', { contacts: contacts(251) });
    expect(answer.status).toBe(400);
    expect(at(answer.json, 'success')).toBe(0);
    expect(at((await acCall(emu, 'GET', '/import/bulk_import')).json, 'outstanding')).toEqual([]);
  });

  test('when 250 contacts are sent, then they are accepted', async () => {
    emu = await startActiveCampaignEmulator({ importProcessingMs: 10 });
    const answer = await acCall(emu, 'POST', '/import/bulk_import', { contacts: contacts(250) });
    expect(answer.status).toBe(200);
    expect(at(answer.json, 'queued_contacts')).toBe(250);
  });

  test('when one email is invalid, then the whole batch is rejected with 400 naming its index', async () => {
    emu = await startActiveCampaignEmulator({ importProcessingMs: 10 });
    const batch = contacts(12);
    batch[7] = { email: 'not-an-email' };
    const answer = await acCall(emu, 'POST', '/import/bulk_import', { contacts: batch });
    expect(answer.status).toBe(400);
    expect(at(answer.json, 'failureReasons')).toEqual([
      { contact: 7, failureReason: 'Field‘ email’ incorrect format' },
    ]);
    emu.flushImports();
    expect(emu.contactByEmail('person0@example.com')).toBeUndefined();
  });

  test('when a batch is queued, then its status goes false -> pending -> completed and results name contact ids', async () => {
    emu = await startActiveCampaignEmulator({
      importProcessingMs: 250,
      importStatusUnsetMs: 80,
      rateLimitPerSecond: 1000,
    });
    emu.createList('Newsletter');
    const queued = await acCall(emu, 'POST', '/import/bulk_import', {
      contacts: [
        { email: 'new@example.com', subscribe: [{ listid: 1 }] },
        { email: 'bad-list@example.com', subscribe: [{ listid: 42 }] },
      ],
    });
    expect(queued.status).toBe(200);
    const batchId = String(at(queued.json, 'batchId'));
    const info = async () => (await acCall(emu, 'GET', `/import/info?batchId=${batchId}`)).json;
    expect(at(await info(), 'status')).toBe(false);
    await waitFor(async () => at(await info(), 'status') === 'pending', { what: 'pending' });
    expect(emu.contactByEmail('new@example.com')).toBeUndefined();
    const done = await waitFor(
      async () => {
        const body = await info();
        return at(body, 'status') === 'completed' ? body : undefined;
      },
      { what: 'completed' },
    );
    const created = emu.contactByEmail('new@example.com');
    expect(created?.lists).toEqual({ '1': 1 });
    expect(done).toEqual({ status: 'completed', success: [created?.id], failure: ['bad-list@example.com'] });
  });

  test('when an unsubscribed contact is imported with subscribe, then it stays unsubscribed; unsubscribe applies', async () => {
    emu = await startActiveCampaignEmulator({ importProcessingMs: 10 });
    emu.createList('Newsletter');
    emu.createList('Offers');
    emu.createContact('gone@example.com', { lists: { '1': 2 } });
    emu.createContact('here@example.com', { lists: { '2': 1 } });
    const answer = await acCall(emu, 'POST', '/import/bulk_import', {
      contacts: [
        { email: 'gone@example.com', subscribe: [{ listid: 1 }] },
        { email: 'here@example.com', unsubscribe: [{ listid: 2 }] },
      ],
    });
    expect(answer.status).toBe(200);
    emu.flushImports();
    expect(emu.contactByEmail('gone@example.com')?.lists).toEqual({ '1': 2 });
    expect(emu.contactByEmail('here@example.com')?.lists).toEqual({ '2': 2 });
    expect(emu.webhookDeliveries).toHaveLength(0);
  });

  test('when more multi-contact imports than allowed per window are sent, then the extra one gets the documented 400', async () => {
    emu = await startActiveCampaignEmulator({
      importProcessingMs: 10,
      importMultiPerWindow: 2,
      importSinglePerWindow: 1,
    });
    const statuses = [];
    for (let i = 0; i < 3; i += 1)
      statuses.push((await acCall(emu, 'POST', '/import/bulk_import', { contacts: contacts(2) })).status);
    expect(statuses).toEqual([200, 200, 400]);
    // Single-contact imports have their own, smaller budget.
    expect((await acCall(emu, 'POST', '/import/bulk_import', { contacts: contacts(1) })).status).toBe(200);
    const refused = await acCall(emu, 'POST', '/import/bulk_import', { contacts: contacts(1) });
    expect(refused.status).toBe(400);
    expect(at(refused.json, 'message')).toBe('Rate limit exceeded.');
  });
});
