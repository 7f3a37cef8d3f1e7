// AC allows 5 requests/s per account (research §1). The emulator enforces it with a sliding one-second window
// and logs each request's arrival: the client must stay under it by construction, not by being refused.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ActiveCampaignClient } from '../../src/activecampaign/activecampaign-client';
import { AcRateLimitedError } from '../../src/activecampaign/activecampaign-errors';
import { TokenBucket } from '../../src/activecampaign/rate-limiter';
import { startActiveCampaignEmulator, type ActiveCampaignEmulator } from '../../src/sandbox/activecampaign';

let emulator: ActiveCampaignEmulator;

beforeAll(async () => {
  emulator = await startActiveCampaignEmulator();
});

afterAll(async () => {
  await emulator.close();
});

describe('the request budget against the emulator', () => {
  it('when 30 calls are fired at once, then the emulator never sees more than 5 in any second and refuses none', async () => {
    const client = new ActiveCampaignClient({
      apiUrl: emulator.url,
      apiToken: emulator.apiToken,
      rateLimiter: new TokenBucket(),
      timeoutMs: 5000,
    });
    emulator.createContact('rate@example.com');
    const mark = emulator.requestLog.length;

    const results = await Promise.all(Array.from({ length: 30 }, () => client.findContactByEmail('rate@example.com')));

    expect(results.every((c) => c?.email === 'rate@example.com')).toBe(true);
    const log = emulator.requestLog.slice(mark);
    expect(log).toHaveLength(30);
    expect(log.filter((r) => r.rateLimited)).toEqual([]);
    const arrivals = log.map((r) => Date.parse(r.at)).sort((a, b) => a - b);
    // Six requests inside one second would be over the limit: the 1st and 6th of any run must be >= 1 s apart.
    for (let i = 0; i + 5 < arrivals.length; i += 1) {
      expect((arrivals[i + 5] ?? 0) - (arrivals[i] ?? 0)).toBeGreaterThanOrEqual(1000);
    }
  });

  it('when the account is throttled, then the budget holds every caller back for Retry-After', async () => {
    const budget = new TokenBucket();
    const client = new ActiveCampaignClient({
      apiUrl: emulator.url,
      apiToken: emulator.apiToken,
      rateLimiter: budget,
      timeoutMs: 5000,
    });
    emulator.setFault({
      status: 429,
      retryAfterSeconds: 1,
      count: 1,
      pathPrefix: '/lists',
    });
    await expect(client.listLists()).rejects.toBeInstanceOf(AcRateLimitedError);
    const throttledAt = Date.now();
    const mark = emulator.requestLog.length;
    await client.listLists();
    const next = emulator.requestLog[mark];
    expect(Date.parse(next?.at ?? '') - throttledAt).toBeGreaterThanOrEqual(990);
  });
});
