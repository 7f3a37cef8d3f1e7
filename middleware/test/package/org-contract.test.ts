// Gate: what the package's Apex and the middleware must agree on beyond API names (package-contract.test.ts checks
// those): the settings' defaults, which audit rows are failures, the audit object's filters using indexed fields,
// and the admin permission set granting what the user-mode paths read. Each of these once disagreed (the outside
// review of issue 18): the admin page listed no failure the middleware copied, and a holder of OptOutSync_Admin on
// a minimum-access profile could not run the Resync button.
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { XMLParser } from 'fast-xml-parser';
import { defaultSettings } from '../../src/sync/settings';
import { auditObject, settingsType, syncStateFields } from '../../src/salesforce/package-names';
import { toAuditRecord } from '../../src/workers/salesforce-audit-export';
import { RelayGapReader } from '../../src/workers/relay-gap-reader';
import type { Store } from '../../src/store';
import { classesDir, objectsDir, repoRoot } from './support/project-copy';

const read = (relative: string) => fs.readFileSync(path.join(repoRoot, relative), 'utf8');
const apex = (className: string) => read(path.join(classesDir, `${className}.cls`));
const xml = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (tag) => tag === 'fieldPermissions' || tag === 'objectPermissions' || tag === 'classAccesses' });
const fieldXml = (objectName: string, field: string) =>
  (xml.parse(read(path.join(objectsDir, objectName, 'fields', `${field}.field-meta.xml`))) as { CustomField: Record<string, string> }).CustomField;

/** The string value of an Apex `static final String NAME = '...'` constant. */
function apexString(source: string, name: string): string | undefined {
  return new RegExp(`static final String ${name}\\s*=\\s*'([^']*)'`).exec(source)?.[1];
}

/** The quoted strings of an Apex collection constant (`... NAME = new Set<String>{ 'a', X.Y, ... }`), constants resolved. */
function apexStrings(source: string, name: string, constants: Record<string, string>): string[] {
  const body = new RegExp(`${name}\\s*=\\s*new (?:Set|List)<String>\\s*\\{([^}]*)\\}`).exec(source)?.[1] ?? '';
  return body
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0)
    .map((item) => (item.startsWith("'") ? item.slice(1, -1) : (constants[item] ?? `unresolved ${item}`)));
}

// Standard fields Salesforce indexes on every custom object (Query Plan: "Indexed fields").
const standardIndexed = new Set(['Id', 'Name', 'OwnerId', 'CreatedDate', 'SystemModstamp', 'LastModifiedDate']);

function isIndexed(field: string): boolean {
  if (standardIndexed.has(field)) return true;
  const definition = fieldXml(auditObject.apiName, field);
  return definition.externalId === 'true' || definition.unique === 'true';
}

/** Fields a SOQL query filters on, and the field it sorts by first. */
function filtersOf(soql: string): { where: string[]; orderBy: string | null } {
  const flat = soql.replace(/\s+/g, ' ');
  const where = /\bWHERE (.*?)(?: WITH | ORDER BY | LIMIT |$)/i.exec(flat)?.[1] ?? '';
  const fields = [...where.matchAll(/\b([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|!=|<|>|\bIN\b|\bLIKE\b)/gi)].map((m) => m[1]!).filter((f) => !/^(AND|OR|NOT)$/i.test(f));
  return { where: fields, orderBy: /\bORDER BY ([A-Za-z_][A-Za-z0-9_]*)/i.exec(flat)?.[1] ?? null };
}

/** The static SOQL queries on the audit object in the package's Apex (`[SELECT ... FROM OptOutSync_Audit__c ...]`). */
function apexAuditQueries(): { where: string; soql: string }[] {
  const dir = path.join(repoRoot, classesDir);
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.cls') && !file.endsWith('Test.cls'))
    .flatMap((file) =>
      [...fs.readFileSync(path.join(dir, file), 'utf8').matchAll(/\[\s*(SELECT[^\]]*?FROM\s+OptOutSync_Audit__c\b[^\]]*)\]/g)].map((m) => ({ where: file, soql: m[1]! })),
    );
}

/** The SOQL the relay-gap reader sends, captured from a run against an org with no gap rows. */
async function relayGapReaderQuery(): Promise<string> {
  const sent: string[] = [];
  const reader = new RelayGapReader({
    store: {} as Store,
    rest: {
      query: (soql: string) => {
        sent.push(soql);
        return Promise.resolve([]);
      },
      updateRecords: () => Promise.resolve([]),
    } as never,
    intake: { queue: () => Promise.resolve() } as never,
    readRecords: () => Promise.resolve([]),
    recordReconcile: () => Promise.resolve(),
    logger: pino({ level: 'silent' }),
  });
  await reader.readOnce();
  return sent[0] ?? '';
}

describe('what Apex and the middleware agree on', () => {
  test('when the settings have no record, then Apex and the middleware apply the same defaults', () => {
    const source = apex('OptOutSyncSettings');
    expect({
      optOutField: apexString(source, 'DEFAULT_OPT_OUT_FIELD'),
      eventMode: apexString(source, 'DEFAULT_EVENT_MODE'),
      auditLevel: apexString(source, 'DEFAULT_AUDIT_LEVEL'),
    }).toEqual({ optOutField: defaultSettings.optOutField, eventMode: defaultSettings.eventMode, auditLevel: defaultSettings.auditLevel });
    // A record an admin creates to change one setting starts every Checkbox at its field default: those must be the
    // defaults too, or creating the record would silently switch a rule.
    const checkboxes = {
      [settingsType.fields.pushEnabled]: defaultSettings.pushEnabled,
      [settingsType.fields.pullEnabled]: defaultSettings.pullEnabled,
      [settingsType.fields.resubscribeOnOptIn]: defaultSettings.resubscribeOnOptIn,
      [settingsType.fields.hardBounceOptsOut]: defaultSettings.hardBounceOptsOut,
    };
    for (const [field, expected] of Object.entries(checkboxes)) {
      expect({ field, defaultValue: fieldXml(settingsType.apiName, field).defaultValue }).toEqual({ field, defaultValue: String(expected) });
    }
  });

  test('when the middleware copies a failure to the org, then the admin page lists it, and nothing else', () => {
    const source = apex('OptOutSyncAdminController');
    const handler = apex('OptOutChangeEventHandler');
    const constants = {
      'OptOutChangeEventHandler.RESULT_RELAY_GAP': apexString(handler, 'RESULT_RELAY_GAP')!,
      'OptOutChangeEventHandler.RESULT_RELAY_ERROR': apexString(handler, 'RESULT_RELAY_ERROR')!,
    };
    const exact = apexStrings(source, 'FAILURE_RESULTS', constants);
    const prefixes = apexStrings(source, 'FAILURE_PREFIXES', constants);
    // SOQL's = and LIKE compare text case-insensitively.
    const listed = (result: string) =>
      exact.some((value) => value.toLowerCase() === result.toLowerCase()) || prefixes.some((prefix) => result.toLowerCase().startsWith(prefix.toLowerCase()));
    const exported = (decision: string, result: string) =>
      String(toAuditRecord({ id: 1, occurred_at: new Date(), direction: 'ac_to_sf', email_norm: null, record_id: null, old_value: null, new_value: null, decision, reason: 'why', result })[auditObject.fields.result]);

    expect({
      deadLetter: listed(exported('dead-letter', 'FIELD_CUSTOM_VALIDATION_EXCEPTION: Phone is required')),
      failedWrite: listed(exported('update-salesforce', 'failed: 003000000000001AAA UNABLE_TO_LOCK_ROW')),
      relayGap: listed(auditObject.results.relayGap),
      relayError: listed(auditObject.results.relayError),
    }).toEqual({ deadLetter: true, failedWrite: true, relayGap: true, relayError: true });
    expect({
      written: listed(exported('update-salesforce', 'written')),
      skipped: listed(exported('skip', 'nothing to do')),
      relayGapRead: listed(auditObject.results.relayGapRead),
    }).toEqual({ written: false, skipped: false, relayGapRead: false });
  });

  test('when Apex or the middleware queries the audit object, then it filters, or else sorts, on indexed fields', async () => {
    // The audit object grows by every decision (Audit_Level__c ALL): an unindexed filter is a full scan on every
    // page view and every relay-gap read (Query Plan tool, "Selective queries").
    const queries = [...apexAuditQueries(), { where: 'relay-gap-reader.ts', soql: await relayGapReaderQuery() }];
    expect(queries.length).toBeGreaterThanOrEqual(4);
    const unindexed: string[] = [];
    for (const { where, soql } of queries) {
      const { where: filtered, orderBy } = filtersOf(soql);
      const used = filtered.length > 0 ? filtered : orderBy === null ? [] : [orderBy];
      for (const field of used) if (!isIndexed(field)) unindexed.push(`${where}: ${field}`);
    }
    expect(unindexed).toEqual([]);
  });

  test('when a holder of OptOutSync_Admin runs the record component, Resync or the app page, then the user-mode reads find every field they select', () => {
    const permissionSet = (xml.parse(read(path.join('force-app', 'main', 'default', 'permissionsets', 'OptOutSync_Admin.permissionset-meta.xml'))) as {
      PermissionSet: { fieldPermissions: { field: string; readable: string }[]; objectPermissions: { object: string; allowRead: string }[] };
    }).PermissionSet;
    const readableFields = new Set(permissionSet.fieldPermissions.filter((p) => p.readable === 'true').map((p) => p.field));
    const readableObjects = new Set(permissionSet.objectPermissions.filter((p) => p.allowRead === 'true').map((p) => p.object));
    // What OptOutRecordQuery (Resync, Push) and OptOutSyncStatusController select in user mode, with the default opt-out field.
    const recordFields = ['Email', defaultSettings.optOutField, ...Object.values(syncStateFields)];
    const wanted = [
      ...['Contact', 'Lead'].flatMap((objectName) => recordFields.map((field) => `${objectName}.${field}`)),
      ...[auditObject.fields.occurredAt, auditObject.fields.direction, auditObject.fields.recordId, auditObject.fields.result, auditObject.fields.reason].map((field) => `${auditObject.apiName}.${field}`),
    ];
    expect(wanted.filter((field) => !readableFields.has(field))).toEqual([]);
    expect(['Contact', 'Lead', auditObject.apiName].filter((objectName) => !readableObjects.has(objectName))).toEqual([]);
  });

  test('when the package is deployed, then no text exceeds the length the Metadata API accepts', () => {
    // Metadata API Developer Guide: PermissionSet description 255 characters, label 80; CustomField description 1,000,
    // inlineHelpText 510, label 40. Longer text fails the deploy and the package version build, which nothing offline
    // runs (the conversion accepts it).
    const limits: Record<string, Record<string, number>> = {
      permissionset: { description: 255, label: 80 },
      field: { description: 1000, inlineHelpText: 510, label: 40 },
    };
    const base = path.join(repoRoot, 'force-app', 'main', 'default');
    const files = (fs.readdirSync(base, { recursive: true }) as string[]).filter((file) => /\.(permissionset|field)-meta\.xml$/.test(file));
    expect(files.length).toBeGreaterThan(30);
    const tooLong: string[] = [];
    for (const file of files) {
      const kind = file.endsWith('.permissionset-meta.xml') ? 'permissionset' : 'field';
      const source = fs.readFileSync(path.join(base, file), 'utf8');
      for (const [tag, max] of Object.entries(limits[kind]!)) {
        // Top-level tags only: a field's picklist values have labels of their own (limit 255).
        const value = new RegExp(`^    <${tag}>([\\s\\S]*?)</${tag}>`, 'm').exec(source)?.[1];
        const length = value === undefined ? 0 : xml.parse(`<t>${value}</t>`).t.length as number;
        if (length > max) tooLong.push(`${file}: ${tag} ${length} > ${max}`);
      }
    }
    expect(tooLong).toEqual([]);
  });

  test('when a user clicks Resync or opens the app page, then only a holder of OptOutSync_Admin may call their Apex', () => {
    // @AuraEnabled and invocable methods run only for users granted their class; the integration user needs none.
    const classesOf = (name: string) =>
      ((xml.parse(read(path.join('force-app', 'main', 'default', 'permissionsets', `${name}.permissionset-meta.xml`))) as { PermissionSet: { classAccesses?: { apexClass: string; enabled: string }[] } }).PermissionSet.classAccesses ?? [])
        .filter((access) => access.enabled === 'true')
        .map((access) => access.apexClass)
        .sort();
    expect(classesOf('OptOutSync_Admin')).toEqual(['OptOutSyncAdminController', 'OptOutSyncStatusController', 'PushOptOutToActiveCampaign', 'ResyncWithActiveCampaign']);
    expect(classesOf('OptOutSync_Integration')).toEqual([]);
  });
});
