// The account rate limit (5 requests/s shared by all keys, 429 + Retry-After), the Api-Token check, and fault
// injection (5xx for N calls or a duration, 503 as throttle, latency, hangs, garbage bodies).
import { startActiveCampaignEmulator, type ActiveCampaignEmulator } from '../../../src/sandbox/activecampaign';
import { acCall } from './ac-http';

describe('AC emulator rate limit, auth and faults', () => {
  let emu: ActiveCampaignEmulator;
  afterEach(async () => {
    await emu.close();
  });

  test('when a sixth call arrives within one second, then it gets 429 with Retry-After in whole seconds', async () => {
    emu = await startActiveCampaignEmulator();
    const answers = [];
    for (let i = 0; i < 6; i += 1) answers.push(await acCall(emu, 'GET', '/lists'));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(answers[0]?.headers.get('RateLimit-Limit')).toBe('5');
    expect(answers[0]?.headers.get('RateLimit-Remaining')).toBe('4');
    expect(answers[5]?.headers.get('Retry-After')).toMatch(/^[1-9]\d*$/);
    expect(emu.requestLog.filter((r) => r.rateLimited)).toHaveLength(1);
  });

  test('when two keys of the same account call, then they share one budget', async () => {
    emu = await startActiveCampaignEmulator({ apiToken: 'key-a', extraApiTokens: ['key-b'], rateLimitPerSecond: 2 });
    const statuses = [
      (await acCall(emu, 'GET', '/lists', undefined, 'key-a')).status,
      (await acCall(emu, 'GET', '/lists', undefined, 'key-b')).status,
      (await acCall(emu, 'GET', '/lists', undefined, 'key-b')).status,
    ];
    expect(statuses).toEqual([200, 200, 429]);
  });

  test('when the window has passed, then calls are served again (sliding window)', async () => {
    emu = await startActiveCampaignEmulator({ rateLimitPerSecond: 2, rateLimitWindowMs: 150 });
    // Timed from before the first call: its arrival opens the window, so a slow machine cannot shorten what we see.
    const firstSentAt = Date.now();
    expect((await acCall(emu, 'GET', '/lists')).status).toBe(200);
    expect((await acCall(emu, 'GET', '/lists')).status).toBe(200);
    expect((await acCall(emu, 'GET', '/lists')).status).toBe(429);
    const started = Date.now();
    let status = 429;
    while (status === 429 && Date.now() - started < 2000) status = (await acCall(emu, 'GET', '/lists')).status;
    expect(status).toBe(200);
    expect(Date.now() - firstSentAt).toBeGreaterThanOrEqual(150);
  });

  test('when configured to throttle with 503, then the over-limit call gets 503', async () => {
    emu = await startActiveCampaignEmulator({ rateLimitPerSecond: 1, rateLimitStatus: 503 });
    await acCall(emu, 'GET', '/lists');
    expect((await acCall(emu, 'GET', '/lists')).status).toBe(503);
  });

  test('when the Api-Token is missing or wrong, then the answer is 403 and the budget is untouched', async () => {
    emu = await startActiveCampaignEmulator({ rateLimitPerSecond: 1 });
    const missing = await acCall(emu, 'GET', '/contacts', undefined, null);
    const wrong = await acCall(emu, 'GET', '/contacts', undefined, 'not-the-key');
    expect([missing.status, wrong.status]).toEqual([403, 403]);
    expect(wrong.text).not.toContain('not-the-key');
    expect((await acCall(emu, 'GET', '/contacts')).status).toBe(200);
  });

  test('when control calls are made over HTTP, then they are neither rate-limited nor logged', async () => {
    emu = await startActiveCampaignEmulator({ rateLimitPerSecond: 1 });
    for (let i = 0; i < 3; i += 1) {
      const res = await fetch(`${emu.url}/__sandbox/lists`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `L${i}` }),
      });
      expect(res.status).toBe(200);
    }
    const contact = await fetch(`${emu.url}/__sandbox/contacts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'x@example.com', lists: { '1': 1 } }),
    });
    expect(await contact.json()).toMatchObject({ email: 'x@example.com', lists: { '1': 1 } });
    const unsub = await fetch(`${emu.url}/__sandbox/unsubscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'x@example.com', listId: 'all' }),
    });
    expect(await unsub.json()).toMatchObject({ lists: { '1': 2 } });
    expect(emu.requestLog).toHaveLength(0);
    expect((await acCall(emu, 'GET', '/lists')).status).toBe(200);
  });

  test('when a 500 fault is set for two calls, then exactly the next two calls fail', async () => {
    emu = await startActiveCampaignEmulator({ rateLimitPerSecond: 100 });
    emu.setFault({ status: 500, count: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await acCall(emu, 'GET', '/lists')).status);
    expect(statuses).toEqual([500, 500, 200]);
  });

  test('when a 503 fault is set for a duration, then calls fail until it ends', async () => {
    emu = await startActiveCampaignEmulator({ rateLimitPerSecond: 1000 });
    emu.setFault({ status: 503, durationMs: 150, retryAfterSeconds: 1 });
    const first = await acCall(emu, 'GET', '/lists');
    expect(first.status).toBe(503);
    expect(first.headers.get('Retry-After')).toBe('1');
    const started = Date.now();
    let status = 503;
    while (status === 503 && Date.now() - started < 2000) status = (await acCall(emu, 'GET', '/lists')).status;
    expect(status).toBe(200);
  });

  test('when the Api-Token is refused for a duration, then every call gets the 403 of a wrong token until it ends', async () => {
    emu = await startActiveCampaignEmulator({ rateLimitPerSecond: 1000 });
    const wrong = await acCall(emu, 'GET', '/lists', undefined, 'not-the-key');
    emu.setFault({ invalidToken: true, durationMs: 150 });
    const refused = await acCall(emu, 'GET', '/lists');
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text)).toEqual(JSON.parse(wrong.text));
    const started = Date.now();
    let status = 403;
    while (status === 403 && Date.now() - started < 2000) status = (await acCall(emu, 'GET', '/lists')).status;
    expect(status).toBe(200);
  });

  test('when a fault is scoped to a method and path, then other calls are served', async () => {
    emu = await startActiveCampaignEmulator({ rateLimitPerSecond: 100 });
    emu.setFault({ status: 502, method: 'POST', pathPrefix: '/contactLists' });
    expect((await acCall(emu, 'GET', '/lists')).status).toBe(200);
    expect(
      (await acCall(emu, 'POST', '/contactLists', { contactList: { list: 1, contact: 1, status: 2 } })).status,
    ).toBe(502);
    emu.clearFaults();
    expect((await acCall(emu, 'POST', '/contactLists', {})).status).toBe(400);
  });

  test('when latency is injected, then the answer is late but correct', async () => {
    emu = await startActiveCampaignEmulator();
    emu.setFault({ latencyMs: 120, count: 1 });
    const started = Date.now();
    const answer = await acCall(emu, 'GET', '/lists');
    expect(answer.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });

  test('when a hang is injected, then the call never answers and the client times out', async () => {
    emu = await startActiveCampaignEmulator();
    emu.setFault({ hang: true, count: 1 });
    await expect(
      fetch(`${emu.apiUrl}/lists`, { headers: { 'Api-Token': emu.apiToken }, signal: AbortSignal.timeout(150) }),
    ).rejects.toThrow();
    expect((await acCall(emu, 'GET', '/lists')).status).toBe(200);
  });

  test('when garbage is injected, then 200 answers carry bodies that are not the documented JSON', async () => {
    emu = await startActiveCampaignEmulator({ rateLimitPerSecond: 100 });
    emu.setFault({ garbage: true, count: 3 });
    const answers = [];
    for (let i = 0; i < 3; i += 1) answers.push(await acCall(emu, 'GET', '/lists'));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    for (const a of answers) {
      const lists = (a.json as { lists?: unknown } | undefined)?.lists;
      expect(Array.isArray(lists)).toBe(false);
    }
    expect(emu.requestLog.filter((r) => r.faulted)).toHaveLength(3);
  });
});
