import path from 'node:path';
import { startSandboxServers, demoPeople, type SandboxServers } from '../../src/sandbox/run-sandbox-servers';
import { emptyWorkDir, runCli } from './run-cli';

const secrets = {
  acToken: 'ac-token-that-must-never-be-printed',
  adminToken: 'short-admin', // too short on purpose: one of the problems
  sfSecret: 'sf-secret-that-must-never-be-printed',
};

describe('optout-sync start and check', () => {
  let servers: SandboxServers;
  let env: Record<string, string>;

  beforeAll(async () => {
    servers = await startSandboxServers({ salesforcePort: 0, activecampaignPort: 0 });
    env = {
      SF_LOGIN_URL: servers.sf.url,
      SF_CLIENT_ID: servers.sf.clientId,
      SF_CLIENT_SECRET: servers.sf.clientSecret,
      SF_API_VERSION: servers.sf.apiVersion,
      AC_API_URL: servers.ac.url,
      AC_API_TOKEN: servers.ac.apiToken,
      ADMIN_TOKEN: 'admin-token-for-cli-tests-0123456789',
      WEBHOOK_SECRET: 'webhook-secret-for-cli-tests-0123456789',
      PGLITE_DATA_DIR: path.join(emptyWorkDir(), 'pglite'),
    };
  });
  afterAll(async () => {
    await servers?.close();
  });

  test('when start gets an invalid environment, then it exits 1 naming each variable and echoing no value', async () => {
    const result = await runCli(['start'], {
      env: { AC_API_URL: 'not a url', AC_API_TOKEN: secrets.acToken, ADMIN_TOKEN: secrets.adminToken, SF_CLIENT_SECRET: secrets.sfSecret, HTTP_PORT: 'eighty' },
    });
    expect(result.code).toBe(1);
    for (const name of ['SF_CLIENT_ID', 'AC_API_URL', 'ADMIN_TOKEN', 'WEBHOOK_SECRET', 'HTTP_PORT']) expect(result.stderr).toMatch(new RegExp(`^  - ${name}: `, 'm'));
    const everything = result.stdout + result.stderr;
    for (const value of [...Object.values(secrets), 'not a url', 'eighty']) expect(everything).not.toContain(value);
  });

  test('when the emulators are running and the configuration points at them, then check passes every line', async () => {
    const result = await runCli(['check'], { env });
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n').filter((l) => l.startsWith('ok'))).toHaveLength(5);
    expect(result.stdout).toMatch(/^ok {6}Salesforce permissions: the integration user can read and edit HasOptedOutOfEmail on Contact and Lead$/m);
    expect(result.stdout).toMatch(/^ok {6}Salesforce: token for .* SOQL query answered$/m);
    expect(result.stdout).toMatch(/^ok {6}ActiveCampaign: GET \/lists answered \(3 list\(s\)\)$/m);
    expect(result.stdout).toMatch(/^ok {6}Database: embedded PGlite: .* will be created at the first start$/m);
    expect(result.stdout).toContain('All checks passed.');
    expect(result.code).toBe(0);
  });

  test('when the ActiveCampaign token is wrong, then check fails that line with a hint and exits 1 without printing the token', async () => {
    const result = await runCli(['check'], { env: { ...env, AC_API_TOKEN: secrets.acToken } });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAILED {2}ActiveCampaign: /m);
    expect(result.stdout).toMatch(/hint: check AC_API_URL .* and AC_API_TOKEN/);
    expect(result.stdout).toMatch(/^ok {6}Salesforce/m);
    expect(result.stdout + result.stderr).not.toContain(secrets.acToken);
  });

  test('when data is out of step, then backfill --dry-run lists it in both directions and writes nothing', async () => {
    const { sf, ac } = servers;
    // Out of step before "installation": opted out in Salesforce only, and unsubscribed everywhere in AC only.
    const katherine = 'katherine.johnson@example.com';
    const katherineContact = servers.demo.records[katherine]![0]!;
    sf.update('Contact', katherineContact.id, { HasOptedOutOfEmail: true });
    const edsger = 'edsger.dijkstra@example.com';
    ac.unsubscribe(edsger, 'all', { source: 'admin' });
    const acWritesBefore = ac.requestLog.filter((r) => r.method !== 'GET').length;
    const sfWritesBefore = sf.requestLog.filter((r) => r.method === 'PATCH' || r.method === 'POST').filter((r) => r.path.startsWith('/services/data')).length;

    const toAc = await runCli(['backfill', '--direction', 'sf-to-ac', '--dry-run'], { env });
    expect(toAc.code).toBe(0);
    expect(toAc.stdout).toMatch(new RegExp(`^${katherine.replace(/\./g, '\\.')} +AC contact \\d+ +unsubscribe from 1 list\\(s\\)`, 'm'));
    expect(toAc.stdout).not.toContain(demoPeople.acUnsubscribe);
    expect(toAc.stdout).toContain('Dry run: 1 email(s) would change; nothing was written.');

    const toSf = await runCli(['backfill', '--direction', 'ac-to-sf', '--dry-run'], { env });
    expect(toSf.code).toBe(0);
    expect(toSf.stdout).toMatch(new RegExp(`^${edsger.replace(/\./g, '\\.')} +00Q\\w+ +opt out \\(R3\\)`, 'm'));
    expect(toSf.stdout).toContain('Dry run: 1 email(s) would change; nothing was written.');

    expect(ac.requestLog.filter((r) => r.method !== 'GET').length).toBe(acWritesBefore);
    expect(sf.requestLog.filter((r) => r.method === 'PATCH' || r.method === 'POST').filter((r) => r.path.startsWith('/services/data')).length).toBe(sfWritesBefore);
    expect(sf.get('Lead', servers.demo.records[edsger]![0]!.id)?.HasOptedOutOfEmail).toBe(false);
    expect(Object.values(ac.contactByEmail(katherine)!.lists).map(Number)).toContain(1);
  });

  test('when a Lead was converted, then backfill plans nothing for it in either direction (Salesforce refuses every update to it)', async () => {
    const { sf, ac } = servers;
    // ac-to-sf: Grace is unsubscribed everywhere in AC and her Contact is opted out; her Lead was converted (not opted
    // out): the Contact carries her opt-out from then on, and an update to the Lead would be refused.
    const grace = demoPeople.acUnsubscribe;
    const graceContact = servers.demo.records[grace]!.find((r) => r.type === 'Contact')!;
    const graceLead = servers.demo.records[grace]!.find((r) => r.type === 'Lead')!;
    sf.update('Contact', graceContact.id, { HasOptedOutOfEmail: true });
    sf.convertLead(graceLead.id);
    ac.unsubscribe(grace, 'all', { source: 'admin' });
    // sf-to-ac: Alan's only opt-out is on a Lead that was converted into his (not opted-out) Contact.
    const alan = demoPeople.hardBounce;
    const alanLead = String(sf.insert('Lead', { FirstName: 'Alan', LastName: 'Turing', Company: 'NPL', Email: alan, HasOptedOutOfEmail: true }).Id);
    sf.convertLead(alanLead);

    const toSf = await runCli(['backfill', '--direction', 'ac-to-sf', '--dry-run'], { env });
    expect(toSf.code).toBe(0);
    expect(toSf.stdout).not.toContain(graceLead.id);
    expect(toSf.stdout).not.toContain(grace);

    const toAc = await runCli(['backfill', '--direction', 'sf-to-ac', '--dry-run'], { env });
    expect(toAc.code).toBe(0);
    expect(toAc.stdout).not.toContain(alan);
  });
});
