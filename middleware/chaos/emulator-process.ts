// One sandbox emulator (Salesforce or ActiveCampaign) as its own process for the chaos run, so that killing a
// middleware instance never touches the systems it syncs. Besides the emulator's own control API (/__sandbox/*),
// a small observer server answers what the judge needs in one call: every record (Salesforce) or every contact
// (ActiveCampaign), and on Salesforce each change event as it was published. Change events are copied out of the
// retention window every 50 ms because the run shortens retention on purpose (expired replay ids) and the judge
// still needs every product write to count no-op writes.
// Run: tsx middleware/chaos/emulator-process.ts salesforce|activecampaign; it prints one JSON line
// {"url": ..., "observer": ...} on stdout when it listens.
import http from 'node:http';
import { z } from 'zod';
import { startSalesforceEmulator } from '../src/sandbox/salesforce';
import { startActiveCampaignEmulator } from '../src/sandbox/activecampaign';
import { cdcChannel, syncStateFields } from '../src/salesforce/package-names';

export interface CapturedChange {
  replayId: number;
  entityName: string;
  changeType: string;
  recordIds: string[];
  changedFields: string[];
  changeOrigin: string;
  commitUser: string;
  publishedAt: number;
}

const headerSchema = z.object({
  entityName: z.string(),
  changeType: z.string(),
  recordIds: z.array(z.string()),
  changedFields: z.array(z.string()),
  changeOrigin: z.string(),
  commitUser: z.string(),
});

async function startObserver(routes: Record<string, (body: unknown) => unknown>): Promise<string> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const route = routes[`${req.method} ${(req.url ?? '').split('?')[0]}`];
      if (route === undefined) {
        res.writeHead(404).end();
        return;
      }
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        const out = route(text === '' ? null : (JSON.parse(text) as unknown));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      } catch (error) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
}

async function runSalesforce(): Promise<{ url: string; observer: string }> {
  // Short CometD timers so that a killed client is noticed in seconds, as in the e2e tests; Pub/Sub keepalives
  // every second for the same reason (Salesforce: within 270 s).
  const sf = await startSalesforceEmulator({ connectTimeoutMs: 2000, clientExpiryMs: 5000, pubSub: { keepaliveMs: 1000 } });
  const captured: CapturedChange[] = [];
  let lastReplayId = -1;
  const capture = () => {
    for (const message of sf.retainedEvents(cdcChannel.channel)) {
      const replayId = message.data.event.replayId;
      if (replayId <= lastReplayId) continue;
      lastReplayId = replayId;
      const header = headerSchema.safeParse(message.data.payload.ChangeEventHeader);
      if (header.success) captured.push({ replayId, ...header.data, publishedAt: Date.now() });
    }
  };
  setInterval(capture, 50).unref();
  const fields = `Id, Email, HasOptedOutOfEmail, ${syncStateFields.hardBounced}`;
  const observer = await startObserver({
    'GET /records': () => [...sf.query(`SELECT ${fields} FROM Contact`).map((r) => ({ ...r, type: 'Contact' })), ...sf.query(`SELECT ${fields} FROM Lead`).map((r) => ({ ...r, type: 'Lead' }))],
    'GET /changes': () => {
      capture();
      return captured;
    },
    'GET /identity': () => ({ clientId: sf.clientId, clientSecret: sf.clientSecret, apiVersion: sf.apiVersion, adminUserId: sf.users.admin.id, integrationUserId: sf.users.integration.id, pubSubEndpoint: sf.pubSubEndpoint, pubSubCaPem: sf.pubSubCaPem }),
  });
  return { url: sf.url, observer };
}

async function runActiveCampaign(): Promise<{ url: string; observer: string }> {
  // AC's documented account limit is 5/s; the short run in `npm test` raises it (CHAOS_AC_RATE) to stay quick.
  const ac = await startActiveCampaignEmulator({ rateLimitPerSecond: Number(process.env.CHAOS_AC_RATE ?? '5'), importProcessingMs: 1000, importStatusUnsetMs: 100 });
  const observer = await startObserver({
    'POST /contacts': (body) => {
      const emails = z.array(z.string()).parse(body);
      return emails.map((email) => ac.contactByEmail(email) ?? null);
    },
    'GET /api-token': () => ({ apiToken: ac.apiToken }),
  });
  return { url: ac.url, observer };
}

async function main(): Promise<void> {
  const which = z.enum(['salesforce', 'activecampaign']).parse(process.argv[2]);
  const started = which === 'salesforce' ? await runSalesforce() : await runActiveCampaign();
  process.stdout.write(`${JSON.stringify({ ...started, pid: process.pid })}\n`);
  process.once('SIGTERM', () => process.exit(0));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`emulator process failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
