// `optout-sync check`: is this configuration usable? Validates the environment (same messages as `start`), then
// tries each connection once: Salesforce token + one SOQL query, ActiveCampaign GET /lists, the database.
// One line per check with a hint on failure; exit code 0 only when everything passed.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { AppConfig } from '../config/load-config';
import pino from 'pino';
import { openDatabase } from '../store';
import { SettingsProvider } from '../salesforce/settings-provider';
import { describePermissionFindings, salesforcePermissionFindings } from '../salesforce/salesforce-permissions';
import { loadConfigOrReport } from './config-loading';
import { activeCampaignClient, salesforceClients } from './edge-clients';
import { errorText, withoutSecrets, type Terminal } from './terminal';

interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  hint?: string;
}

type Check = (config: AppConfig) => Promise<CheckResult>;

const checkSalesforce: Check = async (config) => {
  const name = 'Salesforce';
  let step = 'token';
  try {
    const { session, rest } = salesforceClients(config);
    const token = await session.token();
    step = 'query';
    await rest.query('SELECT Id FROM Contact LIMIT 1', z.object({ Id: z.string() }));
    return { name, ok: true, detail: `token for ${config.salesforce.auth.flow === 'jwt' ? config.salesforce.auth.username : 'the client-credentials user'} at ${token.instanceUrl}; SOQL query answered` };
  } catch (error) {
    const hint =
      step === 'token'
        ? 'check SF_LOGIN_URL (My Domain or test.salesforce.com for sandboxes), SF_CLIENT_ID and SF_CLIENT_SECRET or SF_USERNAME + SF_PRIVATE_KEY_FILE, and that the connected app allows this flow'
        : 'the token works but the query failed: give the integration user API access and read access to Contact (permission set in force-app)';
    return { name, ok: false, detail: `${step} failed: ${errorText(error)}`, hint };
  }
};

/** The integration user's object permissions and field-level security for the opt-out field (Contact and Lead). */
const checkSalesforcePermissions: Check = async (config) => {
  const name = 'Salesforce permissions';
  try {
    const { rest } = salesforceClients(config);
    const settings = await new SettingsProvider(rest, pino({ level: 'silent' })).refresh();
    const findings = await salesforcePermissionFindings(rest, settings.optOutField);
    if (findings.length === 0) return { name, ok: true, detail: `the integration user can read and edit ${settings.optOutField} on Contact and Lead` };
    return {
      name,
      ok: false,
      detail: describePermissionFindings(findings),
      hint: 'assign the package permission set to the integration user, or grant the object permission / field-level security named above in Setup',
    };
  } catch (error) {
    return { name, ok: false, detail: `describe failed: ${errorText(error)}`, hint: 'see the Salesforce line above' };
  }
};

const checkActiveCampaign: Check = async (config) => {
  const name = 'ActiveCampaign';
  try {
    const lists = await activeCampaignClient(config).listLists();
    return { name, ok: true, detail: `GET /lists answered (${lists.length} list(s))` };
  } catch (error) {
    return { name, ok: false, detail: errorText(error), hint: 'check AC_API_URL (Settings > Developer shows it) and AC_API_TOKEN' };
  }
};

async function middlewareAnswers(config: AppConfig): Promise<string | null> {
  const url = `http://${config.http.host}:${config.http.port}`;
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
    return response.ok ? url : null;
  } catch {
    return null;
  }
}

const checkDatabase: Check = async (config) => {
  const name = 'Database';
  if (config.database.kind === 'postgres') {
    try {
      const db = await openDatabase(config.database);
      try {
        await db.query('SELECT 1');
      } finally {
        await db.close();
      }
      return { name, ok: true, detail: 'PostgreSQL answered' };
    } catch (error) {
      return { name, ok: false, detail: `PostgreSQL: ${errorText(error)}`, hint: 'check DATABASE_URL (host, port, user, password, database) and that the server accepts connections' };
    }
  }
  const dir = path.resolve(config.database.dataDir);
  if (config.database.dataDir.startsWith('memory://')) return { name, ok: true, detail: 'in-memory PGlite (nothing survives a restart)' };
  if (!fs.existsSync(dir)) {
    const parent = path.dirname(dir);
    let writable = fs.existsSync(parent);
    try {
      if (writable) fs.accessSync(parent, fs.constants.W_OK);
    } catch {
      writable = false;
    }
    return writable || !fs.existsSync(parent)
      ? { name, ok: true, detail: `embedded PGlite: ${dir} will be created at the first start` }
      : { name, ok: false, detail: `embedded PGlite: cannot create ${dir}`, hint: 'set PGLITE_DATA_DIR to a writable directory' };
  }
  // PGlite is single-process: opening the directory of a running middleware would be unsafe.
  const running = await middlewareAnswers(config);
  if (running !== null) return { name, ok: true, detail: `embedded PGlite at ${dir} is in use by the middleware at ${running} (not opened)` };
  try {
    const db = await openDatabase({ kind: 'pglite', dataDir: dir });
    try {
      await db.query('SELECT 1');
    } finally {
      await db.close();
    }
    return { name, ok: true, detail: `embedded PGlite at ${dir} opened` };
  } catch (error) {
    return { name, ok: false, detail: `embedded PGlite at ${dir}: ${errorText(error)}`, hint: 'is another process using this PGLITE_DATA_DIR? PGlite allows one process at a time' };
  }
};

export async function runCheck(terminal: Terminal, options: { envFile?: string }): Promise<number> {
  const config = loadConfigOrReport(terminal, options.envFile);
  if (config === null) {
    terminal.say('FAILED  configuration (see above)');
    return 1;
  }
  terminal.say('ok      configuration');
  const results = await Promise.all([checkSalesforce, checkSalesforcePermissions, checkActiveCampaign, checkDatabase].map((check) => check(config)));
  for (const result of results) {
    const detail = withoutSecrets(result.detail, config.secrets);
    terminal.say(`${result.ok ? 'ok    ' : 'FAILED'}  ${result.name}: ${detail}`);
    if (!result.ok && result.hint !== undefined) terminal.say(`        hint: ${result.hint}`);
  }
  const failed = results.filter((r) => !r.ok).length;
  terminal.say(failed === 0 ? 'All checks passed.' : `${failed} check(s) failed.`);
  return failed === 0 ? 0 : 1;
}
