// The API names of everything the force-app package defines and the middleware uses. This file is the TypeScript
// side of one source of truth: middleware/test/package/package-contract.test.ts proves that every name here
// exists in force-app's XML and that every field the package defines on these objects appears here.

/** High-volume Platform Event published by the Apex relay, Flows and the resync action (DESIGN §3). */
export const optOutEvent = {
  apiName: 'OptOut_Change__e',
  channel: '/event/OptOut_Change__e',
  fields: {
    recordId: 'Record_Id__c',
    objectName: 'Object_Name__c',
    email: 'Email__c',
    optedOut: 'Opted_Out__c',
    changedAt: 'Changed_At__c',
    changedBy: 'Changed_By__c',
    changeOrigin: 'Change_Origin__c',
    source: 'Source__c',
  },
  /** Values of Source__c. */
  sources: ['CDC_RELAY', 'FLOW', 'RESYNC', 'GAP'] as const,
} as const;

/** Custom CDC channel with ContactChangeEvent and LeadChangeEvent members, Email enriched. */
export const cdcChannel = {
  apiName: 'OptOutSync__chn',
  channel: '/data/OptOutSync__chn',
  members: ['OptOutSync_chn_ContactChangeEvent', 'OptOutSync_chn_LeadChangeEvent'],
  enrichedFields: ['Email'],
} as const;

/** Sync-state fields the package adds to both Contact and Lead. */
export const syncStateFields = {
  acContactId: 'AC_Contact_Id__c',
  acStatus: 'AC_Status__c',
  hardBounced: 'AC_Hard_Bounced__c',
  optOutSource: 'Opt_Out_Source__c',
  lastSyncedAt: 'AC_Last_Synced__c',
} as const;

/** Picklist values of AC_Status__c. */
export const acStatusValues = ['Subscribed', 'Unsubscribed', 'Bounced', 'Not in AC'] as const;
/** Picklist values of Opt_Out_Source__c. */
export const optOutSourceValues = ['Salesforce', 'ActiveCampaign Unsubscribe', 'ActiveCampaign Bounce'] as const;

export const syncedObjects = ['Contact', 'Lead'] as const;
export type SyncedObject = (typeof syncedObjects)[number];

/** Custom metadata type holding the settings, and its default record. */
export const settingsType = {
  apiName: 'OptOutSync_Settings__mdt',
  defaultRecord: 'Default',
  fields: {
    optOutField: 'Opt_Out_Field__c',
    pushEnabled: 'Push_Enabled__c',
    pullEnabled: 'Pull_Enabled__c',
    resubscribeOnOptIn: 'Resubscribe_On_Opt_In__c',
    hardBounceOptsOut: 'Hard_Bounce_Opts_Out__c',
    scopeAcTag: 'Scope_AC_Tag__c',
    scopeCampaignIds: 'Scope_Campaign_Ids__c',
    eventMode: 'Event_Mode__c',
    integrationUsername: 'Integration_Username__c',
    auditLevel: 'Audit_Level__c',
    r5SubscribeSources: 'R5_Subscribe_Sources__c',
  },
  /** Values of Event_Mode__c: subscribe to the CDC channel, the relay Platform Event, or both. */
  eventModes: ['CDC', 'RELAY', 'BOTH'] as const,
  /** Values of Audit_Level__c: which decisions the middleware copies to the audit object. */
  auditLevels: ['FAILURES', 'SALESFORCE_CHANGES', 'ALL'] as const,
} as const;

/** Custom object admins report on. */
export const auditObject = {
  apiName: 'OptOutSync_Audit__c',
  fields: {
    email: 'Email__c',
    recordId: 'Record_Id__c',
    direction: 'Direction__c',
    oldValue: 'Old_Value__c',
    newValue: 'New_Value__c',
    reason: 'Reason__c',
    result: 'Result__c',
    occurredAt: 'Occurred_At__c',
  },
  /**
   * Values of Result__c the package's Apex writes and the middleware reads (OptOutChangeEventHandler): RELAY_GAP is
   * what the relay could not publish, RELAY_GAP_READ the same row once the middleware re-read what it names.
   */
  results: { relayGap: 'RELAY_GAP', relayGapRead: 'RELAY_GAP_READ', relayError: 'RELAY_ERROR' },
} as const;

export const permissionSets = {
  integration: 'OptOutSync_Integration',
  admin: 'OptOutSync_Admin',
} as const;
