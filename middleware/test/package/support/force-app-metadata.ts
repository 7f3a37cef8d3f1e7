// Reads the SFDX source-format XML of force-app into plain data, for the contract and permission gates. The XML
// shapes are those of the Metadata API Developer Guide (CustomField, PermissionSet, PlatformEventChannelMember,
// CustomMetadata), as in fixtures/salesforce/metadata.
import fs from 'node:fs';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';

const repeatedTags = new Set([
  'fieldPermissions',
  'objectPermissions',
  'customMetadataTypeAccesses',
  'classAccesses',
  'tabSettings',
  'userPermissions',
  'value',
  'values',
  'enrichedFields',
]);

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  isArray: (tagName) => repeatedTags.has(tagName),
});

function readXml<T>(file: string, root: string, schema: z.ZodType<T>): T {
  const document = z.record(z.string(), z.unknown()).parse(parser.parse(fs.readFileSync(file, 'utf8')));
  if (!(root in document)) {
    throw new Error(`${file}: expected a <${root}> document`);
  }
  // An empty element parses as '' (e.g. <PermissionSet/>): treat it as an element with no children.
  const body = document[root] === '' ? {} : document[root];
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new Error(`${file}: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

const xmlBoolean = z.enum(['true', 'false']).transform((v) => v === 'true');
const defaultDir = (projectDir: string) => path.join(projectDir, 'force-app', 'main', 'default');

// ---------------------------------------------------------------------------------------------------------------

const customFieldXml = z.object({
  fullName: z.string().optional(),
  type: z.string().optional(),
  required: xmlBoolean.optional(),
  valueSet: z
    .object({
      valueSetDefinition: z.object({
        value: z.array(z.object({ fullName: z.string() })),
      }),
    })
    .optional(),
});

export interface CustomFieldInfo {
  /** API name, from the file name (the source format's key); fullName inside must agree. */
  name: string;
  type: string | undefined;
  required: boolean;
  picklistValues: string[];
}

export function readObjectFields(projectDir: string, objectName: string): CustomFieldInfo[] {
  const dir = path.join(defaultDir(projectDir), 'objects', objectName, 'fields');
  if (!fs.existsSync(dir)) {
    return [];
  }
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.field-meta.xml'))
    .sort()
    .map((fileName) => {
      const name = fileName.replace(/\.field-meta\.xml$/, '');
      const xml = readXml(path.join(dir, fileName), 'CustomField', customFieldXml);
      if (xml.fullName !== undefined && xml.fullName !== name) {
        throw new Error(`${objectName}/${fileName}: fullName ${xml.fullName} differs from the file name`);
      }
      return {
        name,
        type: xml.type,
        required: xml.required ?? false,
        picklistValues: xml.valueSet?.valueSetDefinition.value.map((v) => v.fullName) ?? [],
      };
    });
}

const customObjectXml = z.object({
  label: z.string(),
  eventType: z.string().optional(),
  publishBehavior: z.string().optional(),
  enableReports: xmlBoolean.optional(),
  visibility: z.string().optional(),
});
export type CustomObjectInfo = z.infer<typeof customObjectXml>;

export function readObject(projectDir: string, objectName: string): CustomObjectInfo | undefined {
  const file = path.join(defaultDir(projectDir), 'objects', objectName, `${objectName}.object-meta.xml`);
  return fs.existsSync(file) ? readXml(file, 'CustomObject', customObjectXml) : undefined;
}

// ---------------------------------------------------------------------------------------------------------------

const permissionSetXml = z.object({
  label: z.string(),
  fieldPermissions: z
    .array(
      z.object({
        field: z.string(),
        readable: xmlBoolean,
        editable: xmlBoolean,
      }),
    )
    .default([]),
  objectPermissions: z
    .array(
      z.object({
        object: z.string(),
        allowCreate: xmlBoolean,
        allowDelete: xmlBoolean,
        allowEdit: xmlBoolean,
        allowRead: xmlBoolean,
        modifyAllRecords: xmlBoolean,
        viewAllRecords: xmlBoolean,
      }),
    )
    .default([]),
  customMetadataTypeAccesses: z.array(z.object({ name: z.string(), enabled: xmlBoolean })).default([]),
  userPermissions: z.array(z.object({ name: z.string(), enabled: xmlBoolean })).default([]),
});
export type PermissionSetInfo = z.infer<typeof permissionSetXml>;

export function listPermissionSets(projectDir: string): string[] {
  const dir = path.join(defaultDir(projectDir), 'permissionsets');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.permissionset-meta.xml'))
    .map((f) => f.replace(/\.permissionset-meta\.xml$/, ''))
    .sort();
}

export function readPermissionSet(projectDir: string, name: string): PermissionSetInfo {
  const file = path.join(defaultDir(projectDir), 'permissionsets', `${name}.permissionset-meta.xml`);
  return readXml(file, 'PermissionSet', permissionSetXml);
}

// ---------------------------------------------------------------------------------------------------------------

const channelXml = z.object({ channelType: z.string(), label: z.string() });
const channelMemberXml = z.object({
  eventChannel: z.string(),
  selectedEntity: z.string(),
  enrichedFields: z.array(z.object({ name: z.string() })).default([]),
});

export interface ChannelMemberInfo {
  name: string;
  eventChannel: string;
  selectedEntity: string;
  enrichedFields: string[];
}

export function readChannels(projectDir: string): { name: string; channelType: string }[] {
  const dir = path.join(defaultDir(projectDir), 'platformEventChannels');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.platformEventChannel-meta.xml'))
    .sort()
    .map((f) => ({
      name: f.replace(/\.platformEventChannel-meta\.xml$/, ''),
      channelType: readXml(path.join(dir, f), 'PlatformEventChannel', channelXml).channelType,
    }));
}

export function readChannelMembers(projectDir: string): ChannelMemberInfo[] {
  const dir = path.join(defaultDir(projectDir), 'platformEventChannelMembers');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.platformEventChannelMember-meta.xml'))
    .sort()
    .map((f) => {
      const xml = readXml(path.join(dir, f), 'PlatformEventChannelMember', channelMemberXml);
      return {
        name: f.replace(/\.platformEventChannelMember-meta\.xml$/, ''),
        eventChannel: xml.eventChannel,
        selectedEntity: xml.selectedEntity,
        enrichedFields: xml.enrichedFields.map((e) => e.name),
      };
    });
}

// ---------------------------------------------------------------------------------------------------------------

const customMetadataXml = z.object({
  label: z.string(),
  values: z.array(z.object({ field: z.string(), value: z.unknown() })).default([]),
});

export interface CustomMetadataRecordInfo {
  type: string;
  record: string;
  fields: string[];
}

export function readCustomMetadataRecords(projectDir: string): CustomMetadataRecordInfo[] {
  const dir = path.join(defaultDir(projectDir), 'customMetadata');
  // The package ships no records (an upgrade would overwrite the admin's): no folder is the normal case.
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.md-meta.xml'))
    .sort()
    .map((f) => {
      const [type = '', record = ''] = f.replace(/\.md-meta\.xml$/, '').split('.');
      const xml = readXml(path.join(dir, f), 'CustomMetadata', customMetadataXml);
      // The file name carries the type without its __mdt suffix (Metadata API: CustomMetadata).
      return {
        type: `${type}__mdt`,
        record,
        fields: xml.values.map((v) => v.field),
      };
    });
}

// ---------------------------------------------------------------------------------------------------------------

/** Objects whose every custom field the integration user must be able to read (FLS applies to them). */
export const integrationFieldObjects = ['Contact', 'Lead', 'OptOutSync_Audit__c'] as const;
/** Objects the integration user must read although they carry no FLS (Platform Event fields have none). */
export const integrationReadObjects = ['Contact', 'Lead', 'OptOut_Change__e'] as const;

/**
 * Gate: every custom field on Contact, Lead and the audit object has a readable fieldPermissions entry in the
 * integration permission set (without FLS, CDC and the REST API silently leave the field out, DESIGN §4), and
 * the integration permission set reads Contact, Lead and the Platform Event. Returns what is missing.
 */
export function findIntegrationPermissionGaps(projectDir: string, permissionSet: string): string[] {
  const permissions = readPermissionSet(projectDir, permissionSet);
  const readable = new Set(permissions.fieldPermissions.filter((p) => p.readable).map((p) => p.field));
  const gaps: string[] = [];
  for (const objectName of integrationFieldObjects) {
    for (const field of readObjectFields(projectDir, objectName)) {
      // Required fields cannot carry FLS entries (the Metadata API rejects them).
      if (!field.required && !readable.has(`${objectName}.${field.name}`)) {
        gaps.push(`${objectName}.${field.name}: no readable fieldPermissions entry`);
      }
    }
  }
  for (const objectName of integrationReadObjects) {
    if (!permissions.objectPermissions.some((p) => p.object === objectName && p.allowRead)) {
      gaps.push(`${objectName}: no objectPermissions with allowRead`);
    }
  }
  return gaps;
}
