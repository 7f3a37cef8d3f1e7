// A full sandbox round trip with the logger writing to a captured stream: no configured secret, no access token the
// Salesforce emulator issued and no email address may appear anywhere in the logs, while each decision still has
// one line with correlation ids. The same run checks that the metrics the operations surface promises move.
import { engines } from '../support/test-databases';
import { startSandbox, testSecrets, type Sandbox } from '../support/sandbox-harness';
import { patchRecord } from '../support/salesforce-user';
import { isOptedOut, readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';
import { emailHash } from '../../src/observability/logger';

/** Access tokens the emulator hands out, seen on their way to the middleware. */
const issuedTokens = new Set<string>();
const realFetch = globalThis.fetch;

beforeAll(() => {
  globalThis.fetch = async (input, init) => {
    const response = await realFetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url.includes('/services/oauth2/token') && response.ok) {
      const body = (await response.clone().json()) as { access_token?: unknown };
      if (typeof body.access_token === 'string') issuedTokens.add(body.access_token);
    }
    return response;
  };
});
afterAll(() => {
  globalThis.fetch = realFetch;
});

describe.each(engines)('logs and metrics over a round trip on %s', (engine) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox(engine);
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when an opt-out, an AC unsubscribe and a hard bounce go through, then no secret or email is logged and the metrics move', async () => {
    const { sf, ac } = sandbox;
    const news = ac.createList('News');
    ac.createContact('push.person@example.com', { lists: { [news.id]: 1 } });
    ac.createContact('pull.person@example.com', { lists: { [news.id]: 1 } });
    ac.createContact('bounce.person@example.com', { lists: { [news.id]: 1 } });
    const pushContact = String(sf.insert('Contact', { LastName: 'Push', Email: 'push.person@example.com', HasOptedOutOfEmail: false }).Id);
    const pullContact = String(sf.insert('Contact', { LastName: 'Pull', Email: 'pull.person@example.com', HasOptedOutOfEmail: false }).Id);
    const bounceContact = String(sf.insert('Contact', { LastName: 'Bounce', Email: 'bounce.person@example.com', HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();

    // Salesforce -> AC
    await patchRecord(sf, 'Contact', pushContact, { HasOptedOutOfEmail: true });
    await waitFor(() => Number(ac.contactByEmail('push.person@example.com')?.lists[news.id]) === 2, { what: 'unsubscribed in AC' });
    // AC -> Salesforce, through the webhook (its URL carries the webhook secret)
    ac.unsubscribe('pull.person@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', pullContact), { what: 'opted out in Salesforce' });
    ac.hardBounce('bounce.person@example.com');
    await waitFor(() => sf.get('Contact', bounceContact)?.AC_Hard_Bounced__c === true, { what: 'bounce flagged in Salesforce' });

    // Paths that handle secrets: a wrong webhook secret, a wrong admin token, the right admin token.
    const url = sandbox.app!.url;
    expect((await fetch(`${url}/webhooks/activecampaign/not-the-secret`, { method: 'POST', body: 'type=unsubscribe' })).status).toBe(401);
    expect((await fetch(`${url}/admin/status`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${url}/admin/status`, { headers: { authorization: `Bearer ${testSecrets.adminToken}` } })).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(await ready.json()).toMatchObject({ ok: true, database: true, stream: true, ac: 'reachable' });

    // Metrics the operations surface promises, moved by this round trip.
    const text = await (await fetch(`${url}/metrics`)).text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 'NaN');
    expect(value(/^optout_events_received_total\{channel="[^"]+"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^optout_jobs_queued_total\{kind="push-email"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^optout_jobs_queued_total\{kind="pull[^"]*"\} (\d+)/m)).toBeGreaterThanOrEqual(2);
    expect(value(/^optout_jobs_succeeded_total\{kind="push-email"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^optout_sf_api_calls_total\{kind="query"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^optout_sf_api_calls_total\{kind="composite"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^optout_ac_requests_total\{status="200"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^optout_replay_lag_seconds\{channel="[^"]+"\} ([\d.e+-]+)/m)).toBeGreaterThanOrEqual(0);
    expect(value(/^optout_poll_duration_seconds_count (\d+)/m)).toBeGreaterThanOrEqual(1);
    // The emulator's own count of API calls bounds ours (it also counts calls the test made as a person).
    const ourQueries = value(/^optout_sf_api_calls_total\{kind="query"\} (\d+)/m);
    expect(ourQueries).toBeLessThanOrEqual(sf.apiCallCount());

    await sandbox.stopApp();
    const logs = sandbox.logLines.join('\n');
    expect(logs.length).toBeGreaterThan(1000);
    expect(issuedTokens.size).toBeGreaterThanOrEqual(1);
    const secrets = [...sandbox.config.secrets, testSecrets.adminToken, testSecrets.webhookSecret, sandbox.config.activecampaign.apiToken, sf.clientSecret, ...issuedTokens];
    for (const secret of secrets) {
      // Not `toContain`: a failure must not print the secret into the CI log either.
      expect({ secret: `${secret.slice(0, 3)}…`, found: logs.includes(secret) }).toEqual({ secret: `${secret.slice(0, 3)}…`, found: false });
    }
    // Salesforce access tokens look like <org id>!<opaque>: none of any shape in the logs.
    expect(/00D[A-Za-z0-9]{12,15}![A-Za-z0-9._-]{10,}/.test(logs)).toBe(false);
    for (const email of ['push.person@example.com', 'pull.person@example.com', 'bounce.person@example.com']) {
      expect(logs.toLowerCase().includes(email)).toBe(false);
    }

    // One line per decision, correlated: the stream line carries the replay id and the email's hash, and the
    // push worker's line carries the same hash.
    const lines = sandbox.logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const pushHash = emailHash('push.person@example.com');
    const intake = lines.find((l) => l.msg === 'salesforce change queued' && Array.isArray(l.emails) && l.emails.includes(pushHash));
    expect(intake).toMatchObject({ replayId: expect.any(String), channel: expect.any(String) });
    expect(lines.some((l) => l.msg === 'activecampaign brought in line' && l.email === pushHash)).toBe(true);
    expect(lines.some((l) => l.msg === 'salesforce records brought in line' && l.email === emailHash('pull.person@example.com'))).toBe(true);
  });
});
