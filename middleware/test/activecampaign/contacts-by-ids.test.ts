import { startActiveCampaignEmulator, type ActiveCampaignEmulator } from '../../src/sandbox/activecampaign';
import { ActiveCampaignClient } from '../../src/activecampaign/activecampaign-client';
import { TokenBucket } from '../../src/activecampaign/rate-limiter';

describe('reading many contacts by id', () => {
  let ac: ActiveCampaignEmulator;
  beforeAll(async () => {
    ac = await startActiveCampaignEmulator();
  });
  afterAll(async () => {
    await ac.close();
  });

  test('when 100 contact ids are read, then one request returns each with its list statuses', async () => {
    const list = ac.createList('News');
    const ids = Array.from({ length: 120 }, (_, i) => ac.createContact(`many${i}@example.com`, { lists: { [list.id]: i % 2 === 0 ? 1 : 2 } }).id);
    const client = new ActiveCampaignClient({ apiUrl: ac.url, apiToken: ac.apiToken, rateLimiter: new TokenBucket({ ratePerSecond: 50 }), timeoutMs: 5000 });
    const before = ac.requestLog.length;
    const read = await client.getContactsWithLists(ids.slice(10, 110));
    expect(ac.requestLog.length - before).toBe(1);
    expect(read.map((r) => r.contact.id).sort()).toEqual(ids.slice(10, 110).sort());
    const eleventh = read.find((r) => r.contact.email === 'many11@example.com');
    expect(eleventh?.lists).toEqual([expect.objectContaining({ listId: list.id, status: 2 })]);
    await expect(client.getContactsWithLists(ids)).rejects.toThrow(/at most 100/);
  });
});
