// The emulated org's data: entity definitions, records, users and custom metadata, with the write rules of
// the REST API (required fields, read-only fields, field types) and the facts Change Data Capture needs about
// every write (which fields changed, old and new values). Pure in-memory; no I/O.
import { IdFactory, keyPrefixes, sameId } from './salesforce-ids';
import { SalesforceApiError, invalidTypeMessage, messageForStatusCode } from './salesforce-errors';
import {
  type CustomFieldSpec,
  type FieldDef,
  type FieldValue,
  type SObjectDef,
  campaignDef,
  campaignMemberDef,
  contactDef,
  customField,
  historyDef,
  fieldDefinitionDef,
  leadDef,
  packageSyncFields,
  auditDef,
  auditTypeName,
  settingsDef,
  settingsTypeName,
  userDef,
} from './sobject-schema';

export type RecordFields = Record<string, FieldValue>;

export interface StoredRecord {
  type: string;
  fields: RecordFields;
}

export interface EmulatedUser {
  id: string;
  username: string;
  name: string;
  email: string;
}

export interface WriteContext {
  userId: string;
  /** The write comes through the API as this user, so the user's object and field permissions apply. */
  enforceAccess?: boolean;
  /** CDC changeOrigin: `com/salesforce/api/rest/<ver>;client=<id>` or '' (CDC guide, ChangeEventHeader). */
  changeOrigin: string;
}

export interface RecordChange {
  entity: string;
  id: string;
  changeType: 'CREATE' | 'UPDATE';
  /** CREATE: every non-null field; UPDATE: changed fields (+ LastModifiedDate, LastModifiedById if it changed). */
  values: RecordFields;
  /** Field names in `values` that were set to null by this write. */
  nulled: string[];
  after: RecordFields;
  context: WriteContext;
  at: Date;
}

/**
 * What a customer's org does to one record on every write until it is cleared: a validation rule, a field a Flow or
 * a trigger requires, a record deleted meanwhile, a record the integration user may read but not edit (sharing).
 * Each answers the status code the Object Reference's "Core Data Types Used in API Calls" (StatusCode) names.
 */
export type RecordFault =
  | { kind: 'validation-rule'; message?: string; field?: string }
  | { kind: 'required-field'; field: string }
  | { kind: 'deleted' }
  | { kind: 'read-only' };

export function recordFaultError(fault: RecordFault): SalesforceApiError {
  switch (fault.kind) {
    case 'validation-rule':
      // The message is the rule's own error message, written by the org's admin (it may name anything).
      return new SalesforceApiError(400, 'FIELD_CUSTOM_VALIDATION_EXCEPTION', fault.message ?? messageForStatusCode('FIELD_CUSTOM_VALIDATION_EXCEPTION'), fault.field ? [fault.field] : []);
    case 'required-field':
      return new SalesforceApiError(400, 'REQUIRED_FIELD_MISSING', `Required fields are missing: [${fault.field}]`, [fault.field]);
    case 'deleted':
      return new SalesforceApiError(400, 'ENTITY_IS_DELETED', messageForStatusCode('ENTITY_IS_DELETED'), []);
    case 'read-only':
      return new SalesforceApiError(400, 'INSUFFICIENT_ACCESS_OR_READONLY', messageForStatusCode('INSUFFICIENT_ACCESS_OR_READONLY'), []);
  }
}

/** What the integration user's profile and permission sets allow on an object or on a field. */
export type ObjectAccess = 'edit' | 'read' | 'none';
export type FieldAccess = 'edit' | 'read' | 'hidden';

export interface OrgDataOptions {
  now: () => Date;
  packageInstalled: boolean;
  customFields: Record<string, CustomFieldSpec[]>;
  users: EmulatedUser[];
  /** Fields whose history the org tracks, per object (Setup > Set History Tracking); none by default. */
  fieldHistory?: Partial<Record<'Contact' | 'Lead', string[]>>;
}

const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Record timestamps in Salesforce have second precision (CDC examples show `.000Z`). */
export function secondPrecision(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

export class OrgData {
  readonly ids = new IdFactory();
  readonly orgId: string;
  private readonly records = new Map<string, Map<string, StoredRecord>>();
  private readonly failures = new Map<string, { code: string; remaining: number }>();
  private readonly faults = new Map<string, RecordFault>();
  /** Permissions taken from the restricted user (the integration user); every other user keeps full access. */
  private readonly objectAccess = new Map<string, ObjectAccess>();
  private readonly fieldAccess = new Map<string, FieldAccess>();
  restrictedUserId: string | null = null;
  private readonly extraFields: Record<string, FieldDef[]> = {};
  packageInstalled: boolean;
  readonly users: EmulatedUser[];

  constructor(private readonly options: OrgDataOptions) {
    this.packageInstalled = options.packageInstalled;
    this.orgId = this.ids.next(keyPrefixes.Organization);
    this.users = options.users;
    for (const [type, specs] of Object.entries(options.customFields)) {
      this.extraFields[type] = specs.map(customField);
    }
    for (const user of this.users) this.setUserRecord(user);
    for (const [type, fields] of Object.entries(options.fieldHistory ?? {})) this.trackFieldHistory(type as 'Contact' | 'Lead', fields);
    this.refreshFieldDefinitions();
  }

  setUserRecord(user: EmulatedUser): void {
    this.table('User').set(user.id.slice(0, 15), {
      type: 'User',
      fields: { Id: user.id, Username: user.username, Name: user.name, Email: user.email, IsActive: true },
    });
  }

  now(): Date {
    return this.pinnedNow ?? this.options.now();
  }

  /**
   * Runs one transaction's writes at one instant: Salesforce stamps every record of a DML call with the
   * transaction's time (one LastModifiedDate, one CDC commitTimestamp). Read per record, a call that straddled a
   * second split its change event in two (CI, under load).
   */
  atOneInstant<T>(fn: () => T): T {
    if (this.pinnedNow !== null) return fn();
    this.pinnedNow = this.options.now();
    try {
      return fn();
    } finally {
      this.pinnedNow = null;
    }
  }

  private pinnedNow: Date | null = null;

  /** Turns field history tracking on for these fields of an object (an admin in Setup); [] turns it off. */
  trackFieldHistory(type: 'Contact' | 'Lead', fields: string[]): void {
    this.trackedHistory.set(type, new Set(fields.map((f) => f.toLowerCase())));
    this.refreshFieldDefinitions();
  }

  /** FieldDefinition rows of Contact and Lead, as they stand now (fields come and go with the package). */
  refreshFieldDefinitions(): void {
    const table = this.table('FieldDefinition');
    table.clear();
    for (const type of ['Contact', 'Lead'] as const) {
      const def = this.describe(type);
      const tracked = this.trackedHistory.get(type) ?? new Set<string>();
      for (const f of def?.fields ?? []) {
        const id = `${type}.${f.name}`;
        table.set(id, { type: 'FieldDefinition', fields: { Id: id, EntityDefinitionId: type, QualifiedApiName: f.name, IsFieldHistoryTracked: tracked.has(f.name.toLowerCase()) } });
      }
    }
  }

  private readonly trackedHistory = new Map<string, Set<string>>();

  /** Salesforce's side of a tracked write: a history row per tracked field changed, 'created' on insert. */
  private writeHistory(change: RecordChange, before: RecordFields | null): void {
    const tracked = this.trackedHistory.get(change.entity);
    if (tracked === undefined || tracked.size === 0) return;
    const table = this.table(`${change.entity}History`);
    const row = (fieldName: string, oldValue: FieldValue, newValue: FieldValue, dataType: string) => {
      const id = this.ids.next('017');
      table.set(id.slice(0, 15), {
        type: `${change.entity}History`,
        fields: { Id: id, IsDeleted: false, CreatedDate: change.at.toISOString(), CreatedById: change.context.userId, [`${change.entity}Id`]: change.id, Field: fieldName, DataType: dataType, OldValue: oldValue, NewValue: newValue },
      });
    };
    if (before === null) {
      row('created', null, null, 'Text');
      return;
    }
    const def = this.requireType(change.entity);
    for (const [name, value] of Object.entries(change.values)) {
      if (!tracked.has(name.toLowerCase()) || before[name] === value) continue;
      const type = this.findField(def, name)?.type;
      row(this.findField(def, name)?.name ?? name, before[name] ?? null, value, type === 'boolean' ? 'Boolean' : 'Text');
    }
  }

  addCustomField(type: string, spec: CustomFieldSpec): void {
    (this.extraFields[type] ??= []).push(customField(spec));
    this.refreshFieldDefinitions();
  }

  /** Entity definition as the org shows it now: package parts exist only while the package is installed. */
  describe(type: string): SObjectDef | undefined {
    const all: SObjectDef[] = [contactDef(), leadDef(), userDef(), campaignDef(), campaignMemberDef(), historyDef('Contact'), historyDef('Lead'), fieldDefinitionDef()];
    if (this.packageInstalled) all.push(settingsDef(), auditDef());
    const def = all.find((d) => d.name.toLowerCase() === type.toLowerCase());
    if (!def) return undefined;
    const extra = this.extraFields[def.name] ?? [];
    const pkg = this.packageInstalled && (def.name === 'Contact' || def.name === 'Lead') ? packageSyncFields() : [];
    return { ...def, fields: [...def.fields, ...pkg, ...extra] };
  }

  /** Restricts what the integration user may do with an object ('edit' gives full access back). */
  setObjectAccess(type: string, access: ObjectAccess): void {
    const def = this.requireType(type);
    if (access === 'edit') this.objectAccess.delete(def.name);
    else this.objectAccess.set(def.name, access);
  }

  /** Field-level security of one field for the integration user ('edit' gives full access back). */
  setFieldAccess(type: string, field: string, access: FieldAccess): void {
    const def = this.requireType(type);
    const f = this.findField(def, field);
    if (!f) throw new SalesforceApiError(400, 'INVALID_FIELD', `No such column '${field}' on sobject of type ${def.name}`);
    const key = `${def.name}.${f.name}`;
    if (access === 'edit') this.fieldAccess.delete(key);
    else this.fieldAccess.set(key, access);
  }

  /** Fields of `type` hidden from `userId` by field-level security. */
  hiddenFields(type: string, userId: string | undefined): Set<string> {
    const hidden = new Set<string>();
    if (userId === undefined || userId !== this.restrictedUserId) return hidden;
    for (const [key, access] of this.fieldAccess) {
      const [entity, field] = key.split('.');
      if (access === 'hidden' && entity === type && field) hidden.add(field);
    }
    return hidden;
  }

  /**
   * The entity as `userId` sees it through the API (describe, SOQL, sObject Rows and Collections): without the
   * fields field-level security hides, read-only fields not updateable, undefined without Read on the object
   * (Salesforce Help "Field-Level Security" and "Object Permissions"; REST describe reports createable/updateable).
   */
  describeFor(type: string, userId: string | undefined): SObjectDef | undefined {
    const def = this.describe(type);
    if (!def || userId === undefined || userId !== this.restrictedUserId) return def;
    const objectAccess = this.objectAccess.get(def.name) ?? 'edit';
    if (objectAccess === 'none') return undefined;
    const fields = def.fields
      .filter((f) => this.fieldAccess.get(`${def.name}.${f.name}`) !== 'hidden')
      .map((f) => (this.fieldAccess.get(`${def.name}.${f.name}`) === 'read' ? { ...f, createable: false, updateable: false } : f));
    return { ...def, fields, ...(objectAccess === 'read' ? { readOnlyForUser: true } : {}) };
  }

  requireType(type: string): SObjectDef {
    const def = this.describe(type);
    if (!def) throw new SalesforceApiError(400, 'INVALID_TYPE', invalidTypeMessage(type));
    return def;
  }

  /** Field names are case-insensitive in SOQL and REST; answers the canonical definition. */
  findField(def: SObjectDef, name: string): FieldDef | undefined {
    const lower = name.toLowerCase();
    return def.fields.find((f) => f.name.toLowerCase() === lower);
  }

  private table(type: string): Map<string, StoredRecord> {
    let table = this.records.get(type);
    if (!table) {
      table = new Map();
      this.records.set(type, table);
    }
    return table;
  }

  all(type: string): StoredRecord[] {
    return [...this.table(type).values()];
  }

  get(type: string, id: string): StoredRecord | undefined {
    const def = this.describe(type);
    if (!def) return undefined;
    return this.table(def.name).get(id.slice(0, 15));
  }

  /** Returns the visible fields of a record: fields of uninstalled package parts are hidden, not lost. */
  visibleFields(def: SObjectDef, record: StoredRecord): RecordFields {
    const out: RecordFields = {};
    for (const f of def.fields) out[f.name] = record.fields[f.name] ?? null;
    return out;
  }

  findByEmail(email: string): StoredRecord[] {
    const lower = email.toLowerCase();
    return [...this.all('Contact'), ...this.all('Lead')].filter(
      (r) => typeof r.fields.Email === 'string' && r.fields.Email.toLowerCase() === lower,
    );
  }

  failNextWrites(recordId: string, code: string, times: number): void {
    this.failures.set(recordId.slice(0, 15), { code, remaining: times });
  }

  /** Puts a lasting fault on a record (every update fails with it), or clears it with null. */
  setRecordFault(recordId: string, fault: RecordFault | null): void {
    if (fault === null) this.faults.delete(recordId.slice(0, 15));
    else this.faults.set(recordId.slice(0, 15), fault);
  }

  /**
   * Converts a Lead the way convertLead() leaves it (SOAP API "convertLead()"): IsConverted is true and Status the
   * converted status; the record stays queryable, and every later update is refused with CANNOT_UPDATE_CONVERTED_LEAD.
   */
  convertLead(id: string, context: WriteContext): RecordChange {
    const record = this.get('Lead', id);
    if (!record) throw new SalesforceApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
    if (record.fields.IsConverted === true) throw new SalesforceApiError(400, 'CANNOT_UPDATE_CONVERTED_LEAD', messageForStatusCode('CANNOT_UPDATE_CONVERTED_LEAD'), []);
    const change = this.prepareUpdate('Lead', id, { Status: 'Closed - Converted' }, context);
    change.values.IsConverted = true;
    change.after.IsConverted = true;
    return change;
  }

  private injectedFailure(id: string): SalesforceApiError | undefined {
    const key = id.slice(0, 15);
    const failure = this.failures.get(key);
    if (!failure || failure.remaining <= 0) return undefined;
    failure.remaining -= 1;
    if (failure.remaining === 0) this.failures.delete(key);
    return new SalesforceApiError(400, failure.code, messageForStatusCode(failure.code), []);
  }

  private coerce(def: SObjectDef, f: FieldDef, value: unknown): FieldValue {
    if (value === null) {
      if (!f.nillable) {
        throw new SalesforceApiError(400, 'REQUIRED_FIELD_MISSING', `Required fields are missing: [${f.name}]`, [
          f.name,
        ]);
      }
      return null;
    }
    switch (f.type) {
      case 'boolean':
        if (typeof value !== 'boolean') throw jsonParserError(def, f, value);
        return value;
      case 'double':
        if (typeof value !== 'number') throw jsonParserError(def, f, value);
        return value;
      case 'datetime': {
        if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw jsonParserError(def, f, value);
        return new Date(value).toISOString();
      }
      case 'email':
        if (typeof value !== 'string') throw jsonParserError(def, f, value);
        if (value !== '' && !emailPattern.test(value)) {
          throw new SalesforceApiError(400, 'INVALID_EMAIL_ADDRESS', `${f.name}: invalid email address: ${value}`, [
            f.name,
          ]);
        }
        return value === '' ? null : value;
      case 'picklist':
        // Unrestricted picklists accept any value through the API; that is the default for these fields.
        if (typeof value !== 'string') throw jsonParserError(def, f, value);
        return value === '' ? null : value;
      default:
        if (typeof value !== 'string') throw jsonParserError(def, f, value);
        return value === '' ? null : value;
    }
  }

  private resolveInput(def: SObjectDef, input: Record<string, unknown>, mode: 'create' | 'update'): RecordFields {
    const out: RecordFields = {};
    const readOnly: string[] = [];
    for (const [name, value] of Object.entries(input)) {
      if (name === 'attributes' || (mode === 'update' && name.toLowerCase() === 'id')) continue;
      const f = this.findField(def, name);
      if (!f) {
        throw new SalesforceApiError(400, 'INVALID_FIELD', `No such column '${name}' on sobject of type ${def.name}`);
      }
      if (mode === 'create' ? !f.createable : !f.updateable) {
        readOnly.push(f.name);
        continue;
      }
      out[f.name] = this.coerce(def, f, value);
    }
    if (readOnly.length > 0) {
      throw new SalesforceApiError(
        400,
        'INVALID_FIELD_FOR_INSERT_UPDATE',
        `Unable to create/update fields: ${readOnly.join(', ')}. Please check the security settings of this field ` +
          'and verify that it is read/write for your profile or permission set.',
        readOnly,
      );
    }
    return out;
  }

  private writableType(type: string, context?: WriteContext): SObjectDef {
    const full = this.requireType(type);
    const def = context?.enforceAccess ? this.describeFor(type, context.userId) : full;
    if (!def) throw new SalesforceApiError(400, 'INVALID_TYPE', invalidTypeMessage(type));
    if (!def.writable) {
      throw new SalesforceApiError(400, 'INVALID_TYPE', `entity type ${def.name} does not support DML`, []);
    }
    // Without Edit on the object, each record is refused as the sharing of a read-only record is.
    if (def.readOnlyForUser) throw new SalesforceApiError(400, 'INSUFFICIENT_ACCESS_OR_READONLY', messageForStatusCode('INSUFFICIENT_ACCESS_OR_READONLY'), []);
    return def;
  }

  insert(type: string, input: Record<string, unknown>, context: WriteContext): RecordChange {
    const values = this.resolveInput(this.writableType(type, context), input, 'create');
    const def = this.requireType(type);
    const missing = def.fields.filter((f) => f.required && (values[f.name] === undefined || values[f.name] === null));
    if (missing.length > 0) {
      const names = missing.map((f) => f.name);
      throw new SalesforceApiError(
        400,
        'REQUIRED_FIELD_MISSING',
        `Required fields are missing: [${names.join(', ')}]`,
        names,
      );
    }
    const at = secondPrecision(this.now());
    const id = this.ids.next(def.keyPrefix);
    const fields: RecordFields = {};
    for (const f of def.fields) fields[f.name] = f.defaultValue ?? null;
    Object.assign(fields, values, {
      Id: id,
      IsDeleted: false,
      CreatedDate: at.toISOString(),
      CreatedById: context.userId,
      LastModifiedDate: at.toISOString(),
      LastModifiedById: context.userId,
      SystemModstamp: at.toISOString(),
    });
    if ('OwnerId' in fields && fields.OwnerId === null) fields.OwnerId = context.userId;
    if ('Name' in fields && (def.name === 'Contact' || def.name === 'Lead')) fields.Name = fullName(fields);
    if (def.name === 'Lead') fields.IsConverted = false;
    if (def.name === auditTypeName) fields.Name = `AUD-${String(this.table(def.name).size + 1).padStart(7, '0')}`;
    this.table(def.name).set(id.slice(0, 15), { type: def.name, fields });
    const createValues: RecordFields = {};
    const created = { entity: def.name, id, changeType: 'CREATE' as const, values: {}, nulled: [], after: fields, context, at };
    this.writeHistory(created, null);
    for (const [k, v] of Object.entries(fields)) {
      if (v !== null && k !== 'Id' && k !== 'IsDeleted' && k !== 'SystemModstamp') createValues[k] = v;
    }
    return {
      entity: def.name,
      id,
      changeType: 'CREATE',
      values: createValues,
      nulled: [],
      after: { ...fields },
      context,
      at,
    };
  }

  /** Validates an update and computes its change without applying it (allOrNone needs both steps apart). */
  prepareUpdate(type: string, id: string, input: Record<string, unknown>, context: WriteContext): RecordChange {
    const def = this.writableType(type, context);
    const record = this.table(def.name).get(id.slice(0, 15));
    if (!record || !sameId(String(record.fields.Id), id)) {
      throw new SalesforceApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
    }
    // A converted Lead can no longer be edited, through any API ("CANNOT_UPDATE_CONVERTED_LEAD", Salesforce Help
    // article 000384333: after conversion only convertedAccountId / convertedContactId can be referenced).
    if (def.name === 'Lead' && record.fields.IsConverted === true) {
      throw new SalesforceApiError(400, 'CANNOT_UPDATE_CONVERTED_LEAD', messageForStatusCode('CANNOT_UPDATE_CONVERTED_LEAD'), []);
    }
    const failure = this.injectedFailure(id);
    if (failure) throw failure;
    const fault = this.faults.get(id.slice(0, 15));
    if (fault) throw recordFaultError(fault);
    const values = this.resolveInput(def, input, 'update');
    const at = secondPrecision(this.now());
    const changed: RecordFields = {};
    const nulled: string[] = [];
    for (const [name, value] of Object.entries(values)) {
      if (record.fields[name] === value) continue;
      changed[name] = value;
      if (value === null) nulled.push(name);
    }
    const after: RecordFields = { ...record.fields, ...changed };
    if ('Name' in after && ('FirstName' in changed || 'LastName' in changed)) after.Name = fullName(after);
    // Every successful update stamps LastModifiedDate, even when no value changed (then it is the only
    // changed field of the change event); LastModifiedById appears only when it changed (CDC guide,
    // "Change Event Body Fields").
    changed.LastModifiedDate = at.toISOString();
    if (record.fields.LastModifiedById !== context.userId) changed.LastModifiedById = context.userId;
    after.LastModifiedDate = at.toISOString();
    after.LastModifiedById = context.userId;
    after.SystemModstamp = at.toISOString();
    return {
      entity: def.name,
      id: String(record.fields.Id),
      changeType: 'UPDATE',
      values: changed,
      nulled,
      after,
      context,
      at,
    };
  }

  apply(change: RecordChange): void {
    const table = this.table(change.entity);
    const key = change.id.slice(0, 15);
    const record = table.get(key);
    if (change.changeType === 'CREATE' || !record) return;
    this.writeHistory(change, record.fields);
    record.fields = { ...change.after };
  }

  /** Custom metadata records are deployed, not written by DML: this is the Setup/Metadata API side. */
  setCustomMetadata(type: string, developerName: string, values: RecordFields): StoredRecord {
    const def = this.requireType(type);
    const table = this.table(def.name);
    const existing = [...table.values()].find((r) => r.fields.DeveloperName === developerName);
    const record = existing ?? { type: def.name, fields: {} as RecordFields };
    if (!existing) {
      const id = this.ids.next(def.keyPrefix);
      for (const f of def.fields) record.fields[f.name] = f.defaultValue ?? null;
      Object.assign(record.fields, {
        Id: id,
        DeveloperName: developerName,
        MasterLabel: developerName,
        Label: developerName,
        QualifiedApiName: developerName,
      });
      table.set(id.slice(0, 15), record);
    }
    for (const [name, value] of Object.entries(values)) {
      const f = this.findField(def, name);
      if (!f)
        throw new SalesforceApiError(400, 'INVALID_FIELD', `No such column '${name}' on sobject of type ${def.name}`);
      record.fields[f.name] = value;
    }
    return record;
  }
}

function fullName(fields: RecordFields): string {
  return [fields.FirstName, fields.LastName].filter((p) => typeof p === 'string' && p !== '').join(' ');
}

function jsonParserError(def: SObjectDef, f: FieldDef, value: unknown): SalesforceApiError {
  return new SalesforceApiError(
    400,
    'JSON_PARSER_ERROR',
    `Cannot deserialize instance of ${f.type} from ${typeof value} value ${JSON.stringify(value)} or request may be ` +
      `missing a required field at [line:1, column:1] (field ${def.name}.${f.name})`,
  );
}

export { settingsTypeName };
