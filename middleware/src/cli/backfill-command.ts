// `optout-sync backfill`: aligns data that existed before the middleware was installed. Reading is done here
// (Salesforce SOQL, ActiveCampaign contact pages at a reduced share of the account's rate); applying goes through
// the running middleware's POST /admin/backfill, so that the live workers apply every rule, retry and audit entry.
// --dry-run only reads and prints.
import cliProgress from 'cli-progress';
import { z } from 'zod';
import type { AppConfig } from '../config/load-config';
import type { ActiveCampaignClient } from '../activecampaign/activecampaign-client';
import type { SalesforceRestClient } from '../salesforce/salesforce-rest';
import { SettingsProvider } from '../salesforce/settings-provider';
import { syncedObjects, syncStateFields } from '../salesforce/package-names';
import { isUnsubscribedFromAll } from '../sync/ac-transitions';
import { toAcContactState } from '../workers/ac-contact-state';
import { unconvertedLeads } from '../workers/salesforce-records';
import { createLogger } from '../observability/logger';
import { backfillBatchLimit } from '../server/backfill-routes';
import { loadConfigOrReport } from './config-loading';
import { activeCampaignClient, salesforceClients } from './edge-clients';
import { AdminApiClient, AdminApiError } from './admin-api-client';
import type { AdminTarget } from './admin-commands';
import { errorText, formatTable, withoutSecrets, type Terminal } from './terminal';

export type BackfillDirection = 'sf-to-ac' | 'ac-to-sf';

export interface AcContactSummary {
  acContactId: string;
  email: string;
  activeListIds: string[];
  unsubscribedFromAll: boolean;
  hardBounced: boolean;
}

export interface SfRecordSummary {
  objectName: string;
  id: string;
  email: string;
  optedOut: boolean;
  hardBouncedFlag: boolean | null;
}

export interface SfToAcItem {
  email: string;
  recordIds: string[];
  acContactId: string;
  activeListIds: string[];
}

export interface AcToSfItem {
  email: string;
  acContactId: string;
  hardBounced: boolean;
  recordIds: string[];
}

/** R1 for old data: emails opted out on some Salesforce record whose AC contact still has active or unconfirmed lists. */
export function planSfToAc(optedOutRecords: SfRecordSummary[], acByEmail: Map<string, AcContactSummary>): SfToAcItem[] {
  const byEmail = new Map<string, string[]>();
  for (const r of optedOutRecords.filter((r) => r.optedOut)) byEmail.set(r.email.toLowerCase(), [...(byEmail.get(r.email.toLowerCase()) ?? []), r.id]);
  const items: SfToAcItem[] = [];
  for (const [email, recordIds] of byEmail) {
    const contact = acByEmail.get(email);
    if (contact === undefined || contact.activeListIds.length === 0) continue;
    items.push({ email, recordIds: recordIds.slice(0, 20), acContactId: contact.acContactId, activeListIds: contact.activeListIds });
  }
  return items.sort((a, b) => a.email.localeCompare(b.email));
}

/** R3/R4 for old data: AC contacts unsubscribed from all lists or hard-bounced whose Salesforce records lag behind. */
export function planAcToSf(candidates: AcContactSummary[], records: SfRecordSummary[]): AcToSfItem[] {
  const byEmail = new Map<string, SfRecordSummary[]>();
  for (const r of records) byEmail.set(r.email.toLowerCase(), [...(byEmail.get(r.email.toLowerCase()) ?? []), r]);
  const items: AcToSfItem[] = [];
  for (const c of candidates.filter((c) => c.unsubscribedFromAll || c.hardBounced)) {
    const lagging = (byEmail.get(c.email.toLowerCase()) ?? []).filter((r) => !r.optedOut || (c.hardBounced && r.hardBouncedFlag === false));
    if (lagging.length > 0) items.push({ email: c.email.toLowerCase(), acContactId: c.acContactId, hardBounced: c.hardBounced, recordIds: lagging.map((r) => r.id) });
  }
  return items.sort((a, b) => a.email.localeCompare(b.email));
}

interface Progress {
  start(total: number, label: string): void;
  update(value: number, total?: number): void;
  stop(): void;
}

function progressBar(enabled: boolean): Progress {
  if (!enabled) return { start: () => undefined, update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar({ format: '{label} [{bar}] {value}/{total}', stream: process.stderr, hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic);
  return {
    start: (total, label) => bar.start(total, 0, { label }),
    update: (value, total) => {
      if (total !== undefined) bar.setTotal(total);
      bar.update(value);
    },
    stop: () => bar.stop(),
  };
}

async function readAllAcContacts(ac: ActiveCampaignClient, progress: Progress): Promise<AcContactSummary[]> {
  const out: AcContactSummary[] = [];
  let afterId: string | undefined;
  // AC's total is not known up front without another call: the bar grows by a page at a time.
  progress.start(100, 'ActiveCampaign contacts');
  for (;;) {
    const page = await ac.listAllContactsPage(afterId === undefined ? {} : { afterId });
    for (const read of page.contacts) {
      const state = toAcContactState(read);
      out.push({
        acContactId: state.acContactId,
        email: state.email.toLowerCase(),
        activeListIds: Object.entries(state.listStatuses).filter(([, s]) => s === 0 || s === 1).map(([id]) => id),
        unsubscribedFromAll: isUnsubscribedFromAll(state.listStatuses),
        hardBounced: state.hardBounced,
      });
    }
    progress.update(out.length, page.nextAfterId === null ? out.length : out.length + 100);
    if (page.nextAfterId === null) break;
    afterId = page.nextAfterId;
  }
  progress.stop();
  return out;
}

async function readSalesforce(rest: SalesforceRestClient, config: AppConfig, direction: BackfillDirection, emails: string[]): Promise<SfRecordSummary[]> {
  const settings = await new SettingsProvider(rest, createLogger({ level: 'silent', secrets: config.secrets })).refresh();
  const field = settings.optOutField;
  const customFields = (await rest.describeFieldNames('Contact').catch(() => new Set<string>())).has(syncStateFields.hardBounced);
  const fields = [field, ...(customFields ? [syncStateFields.hardBounced] : [])];
  const schema = z.object({ Id: z.string(), Email: z.string().nullable() }).catchall(z.unknown());
  const out: SfRecordSummary[] = [];
  for (const objectName of syncedObjects) {
    // A converted Lead is never read (as the live workers do): Salesforce refuses every update to it, and the Contact
    // it became carries the person's opt-out from then on.
    const condition = objectName === 'Lead' ? unconvertedLeads : undefined;
    const rows =
      direction === 'sf-to-ac'
        ? await rest.query(`SELECT Id, Email, ${fields.join(', ')} FROM ${objectName} WHERE ${field} = true${condition === undefined ? '' : ` AND ${condition}`}`, schema)
        : emails.length === 0
          ? []
          : await rest.findRecordsByEmails(objectName, emails, fields, schema, condition === undefined ? {} : { condition });
    for (const row of rows) {
      if (row.Email === null || row.Email === '') continue;
      out.push({ objectName, id: row.Id, email: row.Email.toLowerCase(), optedOut: row[field] === true, hardBouncedFlag: customFields ? row[syncStateFields.hardBounced] === true : null });
    }
  }
  return out;
}

const previewRows = 50;

function printPlan(terminal: Terminal, direction: BackfillDirection, items: SfToAcItem[] | AcToSfItem[]): void {
  if (items.length === 0) {
    terminal.say(direction === 'sf-to-ac' ? 'Nothing to do: no email opted out in Salesforce is still active in ActiveCampaign.' : 'Nothing to do: every contact unsubscribed or bounced in ActiveCampaign is already opted out in Salesforce.');
    return;
  }
  const rows = items.slice(0, previewRows).map((item) =>
    'activeListIds' in item
      ? [item.email, `AC contact ${item.acContactId}`, `unsubscribe from ${item.activeListIds.length} list(s): ${item.activeListIds.join(', ')}`]
      : [item.email, item.recordIds.join(', '), item.hardBounced ? 'opt out + AC_Hard_Bounced__c (R4)' : 'opt out (R3)'],
  );
  const headers = direction === 'sf-to-ac' ? ['EMAIL', 'IN AC', 'WOULD CHANGE'] : ['EMAIL', 'SALESFORCE RECORDS', 'WOULD CHANGE'];
  for (const line of formatTable(headers, rows, 70)) terminal.say(line);
  if (items.length > previewRows) terminal.say(`... and ${items.length - previewRows} more`);
}

export async function runBackfill(
  terminal: Terminal,
  options: { direction: BackfillDirection; dryRun: boolean; envFile: string; target: AdminTarget; progress: boolean },
): Promise<number> {
  if (!options.dryRun && (options.target.token === undefined || options.target.token === '')) {
    terminal.warn('Applying a backfill goes through the running middleware: pass --token or set ADMIN_TOKEN (or use --dry-run).');
    return 1;
  }
  const config = loadConfigOrReport(terminal, options.envFile);
  if (config === null) return 1;
  const progress = progressBar(options.progress);
  let items: SfToAcItem[] | AcToSfItem[];
  try {
    const { rest } = salesforceClients(config);
    const acContacts = await readAllAcContacts(activeCampaignClient(config), progress);
    if (options.direction === 'sf-to-ac') {
      const records = await readSalesforce(rest, config, 'sf-to-ac', []);
      items = planSfToAc(records, new Map(acContacts.map((c) => [c.email, c])));
      terminal.say(`Read ${acContacts.length} ActiveCampaign contact(s) and ${records.length} opted-out Salesforce record(s).`);
    } else {
      const candidates = acContacts.filter((c) => c.unsubscribedFromAll || c.hardBounced);
      const records = await readSalesforce(rest, config, 'ac-to-sf', candidates.map((c) => c.email));
      items = planAcToSf(candidates, records);
      terminal.say(`Read ${acContacts.length} ActiveCampaign contact(s) (${candidates.length} unsubscribed from all lists or hard-bounced) and their ${records.length} Salesforce record(s).`);
    }
  } catch (error) {
    progress.stop();
    terminal.warn(`Reading failed: ${withoutSecrets(errorText(error), config.secrets)}`);
    return 1;
  }
  printPlan(terminal, options.direction, items);
  if (options.dryRun) {
    terminal.say(`Dry run: ${items.length} email(s) would change; nothing was written.`);
    return 0;
  }
  if (items.length === 0) return 0;

  const admin = new AdminApiClient(options.target.url, options.target.token ?? '');
  progress.start(items.length, 'queued');
  try {
    for (let i = 0; i < items.length; i += backfillBatchLimit) {
      const batch = items.slice(i, i + backfillBatchLimit);
      const body =
        options.direction === 'sf-to-ac'
          ? { direction: 'sf-to-ac', items: (batch as SfToAcItem[]).map((b) => ({ email: b.email, recordIds: b.recordIds })) }
          : { direction: 'ac-to-sf', items: (batch as AcToSfItem[]).map((b) => ({ email: b.email, acContactId: b.acContactId, hardBounced: b.hardBounced })) };
      await admin.post('/admin/backfill', body, z.object({ queued: z.number() }));
      progress.update(Math.min(items.length, i + batch.length));
    }
  } catch (error) {
    progress.stop();
    terminal.warn(error instanceof AdminApiError ? error.message : `Queueing failed: ${errorText(error)}`);
    if (error instanceof AdminApiError && error.status === 404) terminal.warn('This middleware has no /admin/backfill endpoint (older version?).');
    return 1;
  }
  progress.stop();
  terminal.say(`Queued ${items.length} email(s); the middleware applies them now (audit decision "backfill-queued", then the usual entries).`);
  return 0;
}
