// The on-screen round trip of `optout-sync sandbox`: three changes made as a person would make them, each followed
// by a bounded wait for its effect on the other side, then the addresses to explore. Every effect is read back
// from the emulators (what the vendor would show), not from the middleware's own account of it.
import type { SandboxServers } from '../sandbox/run-sandbox-servers';
import { demoPeople } from '../sandbox/run-sandbox-servers';
import { AdminApiClient } from './admin-api-client';
import { formatTable, type Terminal } from './terminal';

export interface WalkthroughContext {
  servers: SandboxServers;
  middlewareUrl: string;
  adminToken: string;
  logFile: string | null;
  stepTimeoutMs: number;
}

export class StepTimeoutError extends Error {
  constructor(readonly step: string, readonly waitedFor: string, timeoutMs: number) {
    super(`${step}: no effect after ${Math.round(timeoutMs / 1000)} s (waited for ${waitedFor})`);
    this.name = 'StepTimeoutError';
  }
}

const statusNames: Record<number, string> = { 0: 'unconfirmed', 1: 'active', 2: 'unsubscribed', 3: 'bounced' };

async function waitForEffect(step: string, what: string, timeoutMs: number, probe: () => boolean): Promise<number> {
  const started = Date.now();
  while (!probe()) {
    if (Date.now() - started > timeoutMs) throw new StepTimeoutError(step, what, timeoutMs);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - started;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** As a Salesforce user would: REST PATCH with the user's own token, no client tag (so it is not an echo). */
async function patchAsUser(servers: SandboxServers, type: string, id: string, fields: Record<string, unknown>): Promise<void> {
  const { sf } = servers;
  const token = sf.issueToken(sf.users.admin.id);
  const response = await fetch(`${sf.url}/services/data/v${sf.apiVersion}/sobjects/${type}/${id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(fields),
  });
  if (response.status !== 204) throw new Error(`Salesforce answered ${response.status} to the PATCH of ${type} ${id}`);
}

function recordsOf(servers: SandboxServers, email: string): { type: 'Contact' | 'Lead'; id: string }[] {
  return servers.demo.records[email.toLowerCase()] ?? [];
}

function describeRecord(servers: SandboxServers, record: { type: 'Contact' | 'Lead'; id: string }): string {
  const fields = servers.sf.get(record.type, record.id) ?? {};
  const flags = [`Email Opt Out = ${fields.HasOptedOutOfEmail === true}`];
  if (typeof fields.Opt_Out_Source__c === 'string') flags.push(`source "${fields.Opt_Out_Source__c}"`);
  if (fields.AC_Hard_Bounced__c === true) flags.push('AC_Hard_Bounced__c = true');
  return `${record.type.padEnd(7)} ${record.id}  ${flags.join(', ')}`;
}

function listLines(servers: SandboxServers, email: string): string[] {
  const contact = servers.ac.contactByEmail(email);
  if (contact === undefined) return ['(not in ActiveCampaign)'];
  const names = new Map(Object.values(servers.demo.lists).map((l) => [l.id, l.name]));
  return Object.entries(contact.lists).map(([listId, status]) => `list "${names.get(listId) ?? listId}": status ${status} (${statusNames[Number(status)] ?? '?'})`);
}

export async function walkThroughRoundTrip(terminal: Terminal, ctx: WalkthroughContext): Promise<void> {
  const { servers, stepTimeoutMs } = ctx;
  const { sf, ac } = servers;

  // Step 1: R1, Salesforce -> ActiveCampaign.
  const ada = demoPeople.salesforceOptOut;
  const adaContact = recordsOf(servers, ada).find((r) => r.type === 'Contact');
  if (adaContact === undefined) throw new Error('the demo data has no Contact for step 1');
  terminal.say('');
  terminal.say('Step 1 of 3: a Salesforce user ticks Email Opt Out on a Contact');
  terminal.say(`  Salesforce  PATCH Contact ${adaContact.id} (${ada}) {"HasOptedOutOfEmail": true}`);
  for (const line of listLines(servers, ada)) terminal.say(`  AC before   ${line}`);
  await patchAsUser(servers, 'Contact', adaContact.id, { HasOptedOutOfEmail: true });
  const step1Ms = await waitForEffect('Step 1', `every AC list of ${ada} at status 2`, stepTimeoutMs, () => {
    const lists = Object.values(ac.contactByEmail(ada)?.lists ?? {});
    return lists.length > 0 && lists.every((s) => Number(s) === 2);
  });
  for (const line of listLines(servers, ada)) terminal.say(`  AC after    ${line}`);
  terminal.say(`  Step 1 done in ${seconds(step1Ms)}: ${ada} is unsubscribed (status 2) from every ActiveCampaign list.`);

  // Step 2: R3, ActiveCampaign -> every Salesforce record with that email.
  const grace = demoPeople.acUnsubscribe;
  const graceRecords = recordsOf(servers, grace);
  terminal.say('');
  terminal.say('Step 2 of 3: the person clicks "unsubscribe from all" in an ActiveCampaign email');
  terminal.say(`  AC          ${grace} unsubscribes from all lists (a Contact and a Lead in Salesforce share this email)`);
  ac.unsubscribe(grace, 'all', { source: 'public', reason: 'Too many emails' });
  const step2Ms = await waitForEffect('Step 2', `Contact and Lead of ${grace} opted out`, stepTimeoutMs, () =>
    graceRecords.length > 0 && graceRecords.every((r) => sf.get(r.type, r.id)?.HasOptedOutOfEmail === true),
  );
  for (const record of graceRecords) terminal.say(`  Salesforce  ${describeRecord(servers, record)}`);
  terminal.say(`  Step 2 done in ${seconds(step2Ms)}: the Contact and the Lead of ${grace} are opted out in Salesforce.`);

  // Step 3: R4, a hard bounce: opted out AND flagged, so admins can tell a bounce from a choice.
  const alan = demoPeople.hardBounce;
  const alanRecords = recordsOf(servers, alan);
  terminal.say('');
  terminal.say('Step 3 of 3: an email to a contact hard-bounces in ActiveCampaign');
  terminal.say(`  AC          hard bounce for ${alan}`);
  ac.hardBounce(alan, { code: '5.1.1', description: 'mailbox does not exist' });
  const step3Ms = await waitForEffect('Step 3', `records of ${alan} opted out and flagged AC_Hard_Bounced__c`, stepTimeoutMs, () =>
    alanRecords.length > 0 &&
    alanRecords.every((r) => {
      const fields = sf.get(r.type, r.id);
      return fields?.HasOptedOutOfEmail === true && fields.AC_Hard_Bounced__c === true;
    }),
  );
  for (const record of alanRecords) terminal.say(`  Salesforce  ${describeRecord(servers, record)}`);
  terminal.say(`  Step 3 done in ${seconds(step3Ms)}: ${alan} is opted out and flagged AC_Hard_Bounced__c in Salesforce.`);

  await printWhereToLook(terminal, ctx);
}

async function printWhereToLook(terminal: Terminal, ctx: WalkthroughContext): Promise<void> {
  const { servers, middlewareUrl, adminToken } = ctx;
  const admin = new AdminApiClient(middlewareUrl, adminToken);
  const statusPage = await fetch(`${middlewareUrl}/status`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
  terminal.say('');
  terminal.say('Round trip complete. Where to look:');
  terminal.say(`  middleware       ${middlewareUrl}/healthz   ${middlewareUrl}/metrics`);
  if (statusPage) terminal.say(`  status page      ${middlewareUrl}/status (it asks for the admin token)`);
  terminal.say(`  admin API        curl -H "Authorization: Bearer ${adminToken}" ${middlewareUrl}/admin/status`);
  terminal.say(`  admin token      ${adminToken} (generated for this sandbox run only)`);
  terminal.say(`  SF emulator      ${servers.sf.url}   (state: ${servers.sf.url}/__sandbox/state)`);
  terminal.say(`  AC emulator      ${servers.ac.url}   (API: ${servers.ac.apiUrl}, token ${servers.ac.apiToken})`);
  if (ctx.logFile !== null) terminal.say(`  middleware logs  ${ctx.logFile}`);

  const email = demoPeople.salesforceOptOut;
  const entries = (await admin.history(email)).reverse();
  terminal.say('');
  terminal.say(`Audit history of ${email} (GET /admin/history/${email}):`);
  const rows = entries.map((e) => [
    e.occurredAt.slice(11, 19),
    e.direction,
    e.decision,
    e.oldValue !== null || e.newValue !== null ? `${e.oldValue ?? ''} -> ${e.newValue ?? ''}` : '',
    e.reason,
    e.result,
  ]);
  for (const line of formatTable(['TIME', 'DIRECTION', 'DECISION', 'CHANGE', 'WHY', 'RESULT'], rows, 40)) terminal.say(`  ${line}`);
}

/** The same kind of changes, by hand, once the walk-through is over. */
export function printTryItYourself(terminal: Terminal, servers: SandboxServers): void {
  terminal.say('');
  terminal.say('Try it yourself (the middleware keeps syncing):');
  terminal.say(`  curl -X POST ${servers.ac.url}/__sandbox/unsubscribe -H 'content-type: application/json' \\`);
  terminal.say(`       -d '{"email":"katherine.johnson@example.com","listId":"all"}'`);
  terminal.say(`  curl ${servers.sf.url}/__sandbox/records?email=katherine.johnson@example.com`);
}
