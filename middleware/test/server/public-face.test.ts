// The public face: with WEBHOOK_HTTP_PORT set, the AC webhook receiver listens alone on its own port (the only one
// exposed to the internet, behind a TLS proxy), while the admin API, metrics and status page stay on the private
// listener, which no longer serves the webhook. The secret in the path is checked before any byte of body is read.
import http from 'node:http';
import { parseConfig, ConfigError } from '../../src/config/load-config';
import { startApp } from '../../src/app/create-app';
import { ListenError } from '../../src/server/listen';
import { freePort, startSandbox, testSecrets, type Sandbox } from '../support/sandbox-harness';
import { isOptedOut, readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

const required = {
  SF_CLIENT_ID: 'client',
  SF_CLIENT_SECRET: 'sf-secret-value-123',
  AC_API_URL: 'http://127.0.0.1:1',
  AC_API_TOKEN: 'ac-token-abcdef-0123456789',
  ADMIN_TOKEN: 'admin-token-0123456789',
  WEBHOOK_SECRET: 'webhook-secret-0123456789',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseConfig({ ...required, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('public face configuration', () => {
  test('when WEBHOOK_HTTP_PORT is unset, then the main listener serves the webhook', () => {
    expect(parseConfig(required).http.webhook).toBeUndefined();
  });

  test('when WEBHOOK_HTTP_PORT is set, then the webhook listener defaults to the loopback interface', () => {
    expect(parseConfig({ ...required, WEBHOOK_HTTP_PORT: '8443' }).http.webhook).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(parseConfig({ ...required, WEBHOOK_HTTP_PORT: '8443', WEBHOOK_HTTP_HOST: '0.0.0.0' }).http.webhook).toEqual({ host: '0.0.0.0', port: 8443 });
  });

  test('when a port is a word, out of range or the same for both listeners, then the problem is named as such', () => {
    expect(problemsOf({ HTTP_PORT: 'eighty' })).toEqual([expect.stringMatching(/^HTTP_PORT: is not a port number/)]);
    expect(problemsOf({ WEBHOOK_HTTP_PORT: '70000' })).toEqual([expect.stringMatching(/^WEBHOOK_HTTP_PORT: is not a port number/)]);
    expect(problemsOf({ HTTP_PORT: '9000', WEBHOOK_HTTP_PORT: '9000' })).toEqual([expect.stringMatching(/^WEBHOOK_HTTP_PORT: must differ from HTTP_PORT/)]);
    expect(problemsOf({ AC_RATE_LIMIT_PER_SECOND: 'five' })).toEqual([expect.stringMatching(/^AC_RATE_LIMIT_PER_SECOND: is not a valid number/)]);
  });
});

describe('separate webhook listener over a round trip', () => {
  let sandbox: Sandbox;
  let publicBase: string;

  beforeAll(async () => {
    const webhookPort = await freePort();
    publicBase = `http://127.0.0.1:${webhookPort}`;
    sandbox = await startSandbox('pglite', { env: { WEBHOOK_HTTP_PORT: String(webhookPort), AC_WEBHOOK_PUBLIC_URL: publicBase } });
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when AC unsubscribes someone, then the delivery arrives on the public listener and Salesforce is updated', async () => {
    expect(sandbox.app!.webhookUrl).toBe(publicBase);
    const news = sandbox.ac.createList('News');
    sandbox.ac.createContact('public.face@example.com', { lists: { [news.id]: 1 } });
    const id = String(sandbox.sf.insert('Contact', { LastName: 'Face', Email: 'public.face@example.com', HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    sandbox.ac.unsubscribe('public.face@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', id), { what: 'opted out in Salesforce through the public listener' });
    const inbox = await sandbox.app!.store.db.query(`SELECT count(*)::int AS n FROM webhook_inbox`);
    expect(Number((inbox.rows[0] as { n: number }).n)).toBeGreaterThanOrEqual(1);
  });

  test('when the private paths are asked on the public listener, then each is a bare 404', async () => {
    for (const path of ['/admin/status', '/metrics', '/status', '/healthz', '/readyz', '/']) {
      const response = await fetch(publicBase + path, { headers: { authorization: `Bearer ${testSecrets.adminToken}` } });
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      expect(await response.json()).toEqual({ error: 'not found' });
    }
  });

  test('when the webhook is posted to the private listener, then it is not served there', async () => {
    const response = await fetch(`${sandbox.app!.url}/webhooks/activecampaign/${testSecrets.webhookSecret}`, { method: 'POST', body: 'type=unsubscribe' });
    expect(response.status).toBe(404);
    expect((await fetch(`${sandbox.app!.url}/healthz`)).status).toBe(200);
  });

  test('when the private listener is scraped, then it says this instance leads and its stream is connected', async () => {
    const text = await (await fetch(`${sandbox.app!.url}/metrics`)).text();
    expect(text).toMatch(/^optout_leader 1$/m);
    expect(text).toMatch(/^optout_stream_connected 1$/m);
  });

  test('when a caller without the secret starts a large body, then it is answered 401 before the body is sent', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request(`${publicBase}/webhooks/activecampaign/not-the-secret`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(10_000_000) } });
      request.on('response', (response) => {
        resolve(response.statusCode ?? 0);
        response.resume();
        request.destroy();
      });
      request.on('error', reject);
      // Only the first kilobyte of the announced ten megabytes is ever sent: an answer proves nothing waited for it.
      request.write('type=unsubscribe&' + 'x'.repeat(1000));
    });
    expect(status).toBe(401);
  });

  test('when a sender dribbles its headers (slow loris), then the public listener drops it within seconds, not Node\'s 60', async () => {
    const net = await import('node:net');
    const { port } = new URL(publicBase);
    const started = Date.now();
    const closedAfterMs = await new Promise<number>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('POST /webhooks/activecampaign/x HTTP/1.1\r\nHost: a\r\n'));
      // One header byte a second: never a complete request.
      const drip = setInterval(() => socket.write('X'), 1000);
      socket.on('close', () => {
        clearInterval(drip);
        resolve(Date.now() - started);
      });
      socket.on('error', () => undefined);
      setTimeout(() => {
        clearInterval(drip);
        socket.destroy();
        reject(new Error('the slow sender was still connected after 30 s'));
      }, 30_000);
    });
    expect(closedAfterMs).toBeLessThan(20_000);
  }, 35_000);

  test('when the secret is right and the body is too large, then the parser still limits it', async () => {
    const response = await fetch(`${publicBase}/webhooks/activecampaign/${testSecrets.webhookSecret}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `type=unsubscribe&padding=${'x'.repeat(70_000)}` });
    expect(response.status).toBe(413);
  });

  test('when a body that is not a form is posted with the secret, then it is answered 415 and quarantined with its type and its text, not as an empty row', async () => {
    for (const [type, body] of [['application/json', '{"type":"unsubscribe","contact":{"email":"json@example.com"}}'], ['text/plain', 'type=unsubscribe']] as const) {
      const response = await fetch(`${publicBase}/webhooks/activecampaign/${testSecrets.webhookSecret}`, { method: 'POST', headers: { 'content-type': type }, body });
      expect({ type, status: response.status }).toEqual({ type, status: 415 });
      expect(await response.json()).toEqual({ error: 'unsupported content type', reason: `unsupported content type "${type}": ActiveCampaign posts application/x-www-form-urlencoded` });
      const [row] = await sandbox.app!.store.quarantine.list(1);
      expect(row).toMatchObject({ source: 'webhook', reason: expect.stringContaining(type), raw: body });
    }
  });

  test('when traversal paths aim at the admin API through the webhook path, then the public listener answers 404 or 401, never the admin API', async () => {
    const ask = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const request = http.request(`${publicBase}${path}`, { method: 'POST', headers: { authorization: `Bearer ${testSecrets.adminToken}` } }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', reject);
        request.end();
      });
    for (const path of ['/webhooks/activecampaign/..%2F..%2Fadmin%2Fstatus', '/webhooks/activecampaign/../../admin/status', `/webhooks/activecampaign/${testSecrets.webhookSecret}/../../../admin/status`, '/%2e%2e/admin/status']) {
      expect([401, 404]).toContain(await ask(path));
    }
  });

  test('when a second instance is started on a port already taken, then it fails with one sentence naming the setting', async () => {
    const attempt = startApp(sandbox.config, { timing: { pollEveryMs: null } });
    await expect(attempt).rejects.toThrow(ListenError);
    await expect(attempt).rejects.toThrow(new RegExp(`^HTTP_PORT ${sandbox.config.http.port} is already in use on 127\\.0\\.0\\.1`));
  });
});
