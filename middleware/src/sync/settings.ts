// Product settings live in the org (custom metadata OptOutSync_Settings__mdt, record Default) so that an admin
// changes behaviour where the data lives; these defaults apply when the package is not installed (DESIGN §3).
import { z } from 'zod';
import { settingsType } from '../salesforce/package-names';
import { defaultCountedSubscribeSources, parseSubscribeSources, type SubscribeSource } from './subscribe-source';

export type EventMode = (typeof settingsType.eventModes)[number];
export type AuditLevel = (typeof settingsType.auditLevels)[number];

export interface Settings {
  optOutField: string;
  pushEnabled: boolean;
  pullEnabled: boolean;
  resubscribeOnOptIn: boolean;
  hardBounceOptsOut: boolean;
  scopeAcTag: string | null;
  scopeCampaignIds: string[];
  eventMode: EventMode;
  integrationUsername: string | null;
  /** Which decisions are copied to the org's audit object (workers/salesforce-audit-export.ts). */
  auditLevel: AuditLevel;
  /** R5: the subscribe sources (webhook `initiated_from`) that count as the person's own action (subscribe-source.ts). */
  r5SubscribeSources: readonly SubscribeSource[];
}

export const defaultSettings: Settings = {
  optOutField: 'HasOptedOutOfEmail',
  pushEnabled: true,
  pullEnabled: true,
  resubscribeOnOptIn: false,
  hardBounceOptsOut: true,
  scopeAcTag: null,
  scopeCampaignIds: [],
  eventMode: 'CDC',
  integrationUsername: null,
  // Failures only: an admin sees what needs them at no API cost in normal running.
  auditLevel: 'FAILURES',
  r5SubscribeSources: defaultCountedSubscribeSources,
};

const f = settingsType.fields;
const blankToNull = z
  .string()
  .nullish()
  .transform((v) => (v === undefined || v === null || v.trim() === '' ? null : v.trim()));

/** One custom metadata record as the SOQL query returns it; absent fields fall back to the defaults. */
export const settingsRecordSchema = z.object({
  [f.optOutField]: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a field API name').nullish(),
  [f.pushEnabled]: z.boolean().nullish(),
  [f.pullEnabled]: z.boolean().nullish(),
  [f.resubscribeOnOptIn]: z.boolean().nullish(),
  [f.hardBounceOptsOut]: z.boolean().nullish(),
  [f.scopeAcTag]: blankToNull,
  [f.scopeCampaignIds]: blankToNull,
  [f.eventMode]: z.enum(settingsType.eventModes).nullish(),
  [f.integrationUsername]: blankToNull,
  [f.auditLevel]: z.enum(settingsType.auditLevels).nullish(),
  [f.r5SubscribeSources]: blankToNull.transform((text, ctx) => {
    if (text === null) return null;
    const parsed = parseSubscribeSources(text);
    if (!Array.isArray(parsed)) {
      ctx.addIssue({ code: 'custom', message: parsed.error });
      return z.NEVER;
    }
    return parsed.length === 0 ? null : parsed;
  }),
});

export function settingsFromRecord(raw: unknown): Settings {
  const r = settingsRecordSchema.parse(raw) as Record<string, unknown>;
  const pick = <T>(key: string, fallback: T): T => (r[key] === undefined || r[key] === null ? fallback : (r[key] as T));
  const campaigns = pick<string | null>(f.scopeCampaignIds, null);
  return {
    optOutField: pick(f.optOutField, defaultSettings.optOutField),
    pushEnabled: pick(f.pushEnabled, defaultSettings.pushEnabled),
    pullEnabled: pick(f.pullEnabled, defaultSettings.pullEnabled),
    resubscribeOnOptIn: pick(f.resubscribeOnOptIn, defaultSettings.resubscribeOnOptIn),
    hardBounceOptsOut: pick(f.hardBounceOptsOut, defaultSettings.hardBounceOptsOut),
    scopeAcTag: pick(f.scopeAcTag, defaultSettings.scopeAcTag),
    scopeCampaignIds: campaigns === null ? [] : campaigns.split(/[\s,;]+/).filter((s) => s.length > 0),
    eventMode: pick(f.eventMode, defaultSettings.eventMode),
    integrationUsername: pick(f.integrationUsername, defaultSettings.integrationUsername),
    auditLevel: pick(f.auditLevel, defaultSettings.auditLevel),
    r5SubscribeSources: pick(f.r5SubscribeSources, defaultSettings.r5SubscribeSources),
  };
}

/** The SOQL that reads the settings record. */
export const settingsSoql = `SELECT DeveloperName, ${Object.values(f).join(', ')} FROM ${settingsType.apiName} WHERE DeveloperName = '${settingsType.defaultRecord}' LIMIT 1`;
