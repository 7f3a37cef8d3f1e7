// The backlog path end to end: 600 opt-outs as three bulk imports against the emulator.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ActiveCampaignClient } from '../../src/activecampaign/activecampaign-client';
import { unsubscribeInBulk } from '../../src/activecampaign/bulk-unsubscriber';
import { SlidingWindowBudget, TokenBucket } from '../../src/activecampaign/rate-limiter';
import { startActiveCampaignEmulator, type ActiveCampaignEmulator } from '../../src/sandbox/activecampaign';

let emulator: ActiveCampaignEmulator;

beforeAll(async () => {
  emulator = await startActiveCampaignEmulator({ importProcessingMs: 300 });
});

afterAll(async () => {
  await emulator.close();
});

describe('unsubscribeInBulk against the emulator', () => {
  it('when 600 known contacts opt out, then 3 imports unsubscribe every one of them from every list', async () => {
    const [a, b] = [emulator.createList('Bulk A'), emulator.createList('Bulk B')];
    const inputs = Array.from({ length: 600 }, (_, i) => {
      const email = `bulk${i}@example.com`;
      const contact = emulator.createContact(email, {
        lists: { [a.id]: 1, [b.id]: i % 2 === 0 ? 1 : 0 },
      });
      return { email, contactId: contact.id, listIds: [a.id, b.id] };
    });
    const client = new ActiveCampaignClient({
      apiUrl: emulator.url,
      apiToken: emulator.apiToken,
      rateLimiter: new TokenBucket(),
      timeoutMs: 5000,
    });
    const mark = emulator.requestLog.length;

    const report = await unsubscribeInBulk(client, inputs, {
      pollIntervalMs: 100,
      importBudget: new SlidingWindowBudget({ limit: 100, windowMs: 60_000 }),
    });

    expect(report.batches.map((batch) => [batch.size, batch.status])).toEqual([
      [250, 'completed'],
      [250, 'completed'],
      [100, 'completed'],
    ]);
    expect(report.outcomes.filter((o) => o.outcome !== 'unsubscribed')).toEqual([]);
    const imports = emulator.requestLog.slice(mark).filter((r) => r.method === 'POST');
    expect(imports.map((r) => r.path)).toEqual([
      '/api/3/import/bulk_import',
      '/api/3/import/bulk_import',
      '/api/3/import/bulk_import',
    ]);
    for (const input of [inputs[0], inputs[1], inputs[599]]) {
      expect(emulator.contactByEmail(input?.email ?? '')?.lists).toEqual({
        [a.id]: 2,
        [b.id]: 2,
      });
    }
  });
});
