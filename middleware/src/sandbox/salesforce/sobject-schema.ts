// The entities and fields the emulated org knows, shaped after the describe result of the REST API
// ("sObject Describe", REST API Developer Guide) and the Object Reference (Contact, Lead, User, Campaign,
// CampaignMember). Package names are written out here on purpose: the emulator must not import the product,
// it plays the org in which the package either is or is not installed.

export type FieldType =
  'id' | 'string' | 'email' | 'boolean' | 'datetime' | 'reference' | 'picklist' | 'textarea' | 'double';

export type FieldValue = string | number | boolean | null;

export interface FieldDef {
  name: string;
  type: FieldType;
  label: string;
  custom: boolean;
  createable: boolean;
  updateable: boolean;
  nillable: boolean;
  /** Required on create (LastName, Company): Salesforce answers REQUIRED_FIELD_MISSING. */
  required?: boolean;
  defaultValue?: FieldValue;
  referenceTo?: string[];
  picklistValues?: string[];
}

export interface SObjectDef {
  name: string;
  label: string;
  keyPrefix: string;
  custom: boolean;
  /** Change Data Capture is selected for the entity (Contact and Lead in the package). */
  changeTracked: boolean;
  /** Records can be written through REST (custom metadata cannot: it is deployed, not DML'd). */
  writable: boolean;
  /** The user asking has Read but not Edit on the object (describeFor). */
  readOnlyForUser?: boolean;
  fields: FieldDef[];
}

/** Field shorthand for custom fields passed in options ("a custom opt-out checkbox"). */
export interface CustomFieldSpec {
  name: string;
  type: FieldType;
  label?: string;
  picklistValues?: string[];
  defaultValue?: FieldValue;
}

function field(name: string, type: FieldType, extra: Partial<FieldDef> = {}): FieldDef {
  const system = [
    'Id',
    'CreatedDate',
    'CreatedById',
    'LastModifiedDate',
    'LastModifiedById',
    'SystemModstamp',
    'IsDeleted',
  ];
  const isSystem = system.includes(name);
  return {
    name,
    type,
    label: name.replace(/__c$/, '').replace(/_/g, ' '),
    custom: name.endsWith('__c'),
    createable: !isSystem,
    updateable: !isSystem,
    nillable: type !== 'boolean' && !isSystem,
    ...(type === 'boolean' ? { defaultValue: false } : {}),
    ...extra,
  };
}

export function customField(spec: CustomFieldSpec): FieldDef {
  return field(spec.name, spec.type, {
    ...(spec.label !== undefined ? { label: spec.label } : {}),
    ...(spec.picklistValues !== undefined ? { picklistValues: spec.picklistValues } : {}),
    ...(spec.defaultValue !== undefined ? { defaultValue: spec.defaultValue } : {}),
  });
}

function systemFields(): FieldDef[] {
  return [
    field('Id', 'id'),
    field('IsDeleted', 'boolean'),
    field('OwnerId', 'reference', { referenceTo: ['User'] }),
    field('CreatedDate', 'datetime'),
    field('CreatedById', 'reference', { referenceTo: ['User'] }),
    field('LastModifiedDate', 'datetime'),
    field('LastModifiedById', 'reference', { referenceTo: ['User'] }),
    field('SystemModstamp', 'datetime'),
  ];
}

/** The package's sync-state fields on Contact and Lead (force-app objects/<Object>/fields). */
export function packageSyncFields(): FieldDef[] {
  return [
    field('AC_Contact_Id__c', 'string', { label: 'ActiveCampaign Contact Id' }),
    field('AC_Status__c', 'picklist', {
      label: 'ActiveCampaign Status',
      picklistValues: ['Subscribed', 'Unsubscribed', 'Bounced', 'Not in AC'],
    }),
    field('AC_Hard_Bounced__c', 'boolean', { label: 'ActiveCampaign Hard Bounced' }),
    field('Opt_Out_Source__c', 'picklist', {
      label: 'Opt Out Source',
      picklistValues: ['Salesforce', 'ActiveCampaign Unsubscribe', 'ActiveCampaign Bounce'],
    }),
    field('AC_Last_Synced__c', 'datetime', { label: 'ActiveCampaign Last Synced' }),
  ];
}

export const settingsTypeName = 'OptOutSync_Settings__mdt';

function personFields(): FieldDef[] {
  return [
    field('FirstName', 'string'),
    field('LastName', 'string', { required: true, nillable: false }),
    field('Name', 'string', { createable: false, updateable: false }),
    field('Email', 'email'),
    field('HasOptedOutOfEmail', 'boolean', { label: 'Email Opt Out' }),
  ];
}

export function contactDef(): SObjectDef {
  return {
    name: 'Contact',
    label: 'Contact',
    keyPrefix: '003',
    custom: false,
    changeTracked: true,
    writable: true,
    fields: [...systemFields(), ...personFields(), field('AccountId', 'reference', { referenceTo: ['Account'] })],
  };
}

export function leadDef(): SObjectDef {
  return {
    name: 'Lead',
    label: 'Lead',
    keyPrefix: '00Q',
    custom: false,
    changeTracked: true,
    writable: true,
    fields: [
      ...systemFields(),
      ...personFields(),
      field('Company', 'string', { required: true, nillable: false }),
      field('Status', 'picklist', {
        defaultValue: 'Open - Not Contacted',
        picklistValues: ['Open - Not Contacted', 'Working - Contacted', 'Closed - Converted', 'Closed - Not Converted'],
      }),
      field('IsConverted', 'boolean', { createable: false, updateable: false }),
    ],
  };
}

export function userDef(): SObjectDef {
  return {
    name: 'User',
    label: 'User',
    keyPrefix: '005',
    custom: false,
    changeTracked: false,
    writable: false,
    fields: [
      field('Id', 'id'),
      field('Username', 'string'),
      field('Name', 'string'),
      field('Email', 'email'),
      field('IsActive', 'boolean'),
    ],
  };
}

export function campaignDef(): SObjectDef {
  return {
    name: 'Campaign',
    label: 'Campaign',
    keyPrefix: '701',
    custom: false,
    changeTracked: false,
    writable: true,
    fields: [
      ...systemFields(),
      field('Name', 'string', { required: true, nillable: false }),
      field('IsActive', 'boolean'),
    ],
  };
}

export function campaignMemberDef(): SObjectDef {
  return {
    name: 'CampaignMember',
    label: 'Campaign Member',
    keyPrefix: '00v',
    custom: false,
    changeTracked: false,
    writable: true,
    fields: [
      ...systemFields().filter((f) => f.name !== 'OwnerId'),
      field('CampaignId', 'reference', { referenceTo: ['Campaign'], required: true, nillable: false }),
      field('ContactId', 'reference', { referenceTo: ['Contact'] }),
      field('LeadId', 'reference', { referenceTo: ['Lead'] }),
      field('Status', 'string', { defaultValue: 'Sent' }),
    ],
  };
}

/**
 * Field history of Contact and Lead (Object Reference, "ContactHistory" / "LeadHistory"): one row per change of a
 * field whose history the org tracks (Setup > Set History Tracking, at most 20 fields an object), plus a row with
 * Field 'created' when a record is created. Salesforce writes them; no API can. OldValue/NewValue are anyType: the
 * value in the field's own type (a Checkbox's history holds booleans).
 */
export function historyDef(parent: 'Contact' | 'Lead'): SObjectDef {
  const ro = { createable: false, updateable: false };
  return {
    name: `${parent}History`,
    label: `${parent} History`,
    keyPrefix: '017',
    custom: false,
    changeTracked: false,
    writable: false,
    fields: [
      field('Id', 'id'),
      field('IsDeleted', 'boolean'),
      field('CreatedDate', 'datetime'),
      field('CreatedById', 'reference', { referenceTo: ['User'] }),
      field(`${parent}Id`, 'reference', { ...ro, referenceTo: [parent] }),
      field('Field', 'picklist', ro),
      field('DataType', 'string', ro),
      field('OldValue', 'string', ro),
      field('NewValue', 'string', ro),
    ],
  };
}

/**
 * FieldDefinition (Object Reference, Tooling/metadata entity also queryable through the REST query resource): one
 * row per field of an object; `IsFieldHistoryTracked` says whether Setup > Set History Tracking is on for it. Only
 * Contact's and Lead's fields are listed here, filtered as Salesforce requires by `EntityDefinitionId` (for a
 * standard object, its name).
 */
export function fieldDefinitionDef(): SObjectDef {
  const ro = { createable: false, updateable: false };
  return {
    name: 'FieldDefinition',
    label: 'Field Definition',
    keyPrefix: '000',
    custom: false,
    changeTracked: false,
    writable: false,
    fields: [
      field('Id', 'id'),
      field('EntityDefinitionId', 'string', ro),
      field('QualifiedApiName', 'string', ro),
      field('IsFieldHistoryTracked', 'boolean', ro),
    ],
  };
}

/** Custom metadata type of the package: queryable by SOQL, not writable through REST DML. */
export function settingsDef(): SObjectDef {
  const ro = { createable: false, updateable: false };
  return {
    name: settingsTypeName,
    label: 'OptOutSync Settings',
    keyPrefix: 'm01',
    custom: true,
    changeTracked: false,
    writable: false,
    fields: [
      field('Id', 'id'),
      field('DeveloperName', 'string', ro),
      field('MasterLabel', 'string', ro),
      field('Label', 'string', ro),
      field('QualifiedApiName', 'string', ro),
      field('NamespacePrefix', 'string', ro),
      field('Opt_Out_Field__c', 'string', ro),
      field('Push_Enabled__c', 'boolean', ro),
      field('Pull_Enabled__c', 'boolean', ro),
      field('Resubscribe_On_Opt_In__c', 'boolean', ro),
      field('Hard_Bounce_Opts_Out__c', 'boolean', ro),
      field('Scope_AC_Tag__c', 'string', ro),
      field('Scope_Campaign_Ids__c', 'textarea', ro),
      field('Event_Mode__c', 'picklist', { ...ro, picklistValues: ['CDC', 'RELAY', 'BOTH'] }),
      field('Integration_Username__c', 'string', ro),
      field('Audit_Level__c', 'picklist', { ...ro, picklistValues: ['FAILURES', 'SALESFORCE_CHANGES', 'ALL'] }),
      field('R5_Subscribe_Sources__c', 'string', ro),
    ],
  };
}

export const auditTypeName = 'OptOutSync_Audit__c';

/**
 * The package's audit object (force-app objects/OptOutSync_Audit__c): the package's Apex writes its relay gaps
 * there (Result__c RELAY_GAP) and the middleware its decisions. Name is an auto number (AUD-{0000000}).
 */
export function auditDef(): SObjectDef {
  return {
    name: auditTypeName,
    label: 'OptOutSync Audit',
    keyPrefix: 'a01',
    custom: true,
    changeTracked: false,
    writable: true,
    fields: [
      ...systemFields(),
      field('Name', 'string', { label: 'Audit Number', createable: false, updateable: false }),
      field('Direction__c', 'string'),
      field('Email__c', 'email'),
      field('Record_Id__c', 'string'),
      field('Old_Value__c', 'string'),
      field('New_Value__c', 'string'),
      field('Reason__c', 'string'),
      field('Result__c', 'string'),
      field('Occurred_At__c', 'datetime'),
    ],
  };
}
