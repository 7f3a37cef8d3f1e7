// `optout-sync sandbox --scenario <name>`: the demo org with a real-org problem, and what the product reports about
// it, instead of the happy round trip. The newcomer sees the finding the way an operator would meet it.
import { demoPeople, type SandboxServers } from '../sandbox/run-sandbox-servers';
import { applyOrgScenario, type OrgScenario } from '../sandbox/salesforce';
import { describePermissionFindings } from '../salesforce/salesforce-permissions';
import type { RunningApp } from '../app/create-app';
import type { Terminal } from './terminal';

/** The person whose Lead the record-level scenarios act on (a Contact and a Lead share the email). */
const scenarioEmail = demoPeople.acUnsubscribe;

export function applyScenario(terminal: Terminal, servers: SandboxServers, scenario: OrgScenario): void {
  const applied = applyOrgScenario(servers.sf, scenario, { email: scenarioEmail });
  terminal.say(`  scenario                 ${scenario}: ${applied.description}${applied.recordId === null ? '' : ` (Lead ${applied.recordId}, ${scenarioEmail})`}`);
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Shows what the running middleware says about the scenario's problem. */
export async function showScenario(terminal: Terminal, servers: SandboxServers, app: RunningApp, scenario: OrgScenario, timeoutMs: number): Promise<void> {
  terminal.say('');
  if (scenario === 'hidden-field') {
    const findings = await until('the permission check', timeoutMs, async () => (await app.status()).salesforcePermissions ?? undefined);
    terminal.say(findings.length === 0 ? 'The middleware found nothing missing (unexpected for this scenario).' : `The middleware reports (status page banner, /readyz as degraded, /admin/status, optout-sync check): ${describePermissionFindings(findings)}`);
    return;
  }
  terminal.say(`${scenarioEmail} unsubscribes from every list in ActiveCampaign; the middleware brings Salesforce in line:`);
  servers.ac.unsubscribe(scenarioEmail, 'all');
  const lead = servers.demo.records[scenarioEmail]?.find((r) => r.type === 'Lead');
  const leadAudit = await until('the decision about the Lead', timeoutMs, async () => {
    const history = await app.store.audit.historyForEmail(scenarioEmail);
    const about = history.filter((a) => a.recordId === lead?.id && a.direction === 'ac_to_sf');
    return about.length > 0 ? history.reverse() : undefined;
  });
  for (const a of leadAudit.filter((e) => e.direction === 'ac_to_sf')) {
    terminal.say(`  audit  ${a.recordId ?? '-'}  ${a.decision}: ${a.reason} [${a.result}]`);
  }
  const letters = (await app.store.jobs.listDeadLetters()).filter((d) => d.subject === scenarioEmail);
  for (const d of letters) terminal.say(`  dead letter ${d.id}: ${d.lastError} (retry once the org is fixed: optout-sync dead-letters retry ${d.id})`);
}
