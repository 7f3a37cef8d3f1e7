// Avro schemas of the emulated org's events, shaped after the ones the Pub/Sub API serves ("Event Data
// Serialization with Apache Avro", "Event Deserialization Considerations", "Change Event Message Structure"):
// a change event is a record named <Entity>ChangeEvent in namespace com.sforce.eventbus whose first field is
// ChangeEventHeader (bitmap fields as arrays of strings) followed by every record field as an optional union with a
// `doc` naming its Salesforce type; compound fields (Name on Contact and Lead) are nested records; date-times are
// epoch milliseconds ("Date fields are in Epoch time"). Platform events start with CreatedDate and CreatedById.
// The schema id is a fingerprint of the schema text, so adding a field gives a new id (as in Salesforce).
import { createHash } from 'node:crypto';
import avro from 'avsc';
import type { FieldType } from '../sobject-schema';

export type AvroField = { name: string; type: unknown; doc?: string; default?: null };
export type AvroRecordSchema = { type: 'record'; name: string; namespace?: string; doc?: string; fields: AvroField[] };

export type EntityField = { name: string; type: FieldType };

export const changeTypeSymbols = [
  'CREATE',
  'UPDATE',
  'DELETE',
  'UNDELETE',
  'GAP_CREATE',
  'GAP_UPDATE',
  'GAP_DELETE',
  'GAP_UNDELETE',
  'GAP_OVERFLOW',
  'SNAPSHOT',
] as const;

const changeEventHeader: AvroRecordSchema = {
  type: 'record',
  name: 'ChangeEventHeader',
  namespace: 'com.sforce.eventbus',
  fields: [
    { name: 'entityName', type: 'string' },
    { name: 'recordIds', type: { type: 'array', items: 'string' } },
    { name: 'changeType', type: { type: 'enum', name: 'ChangeType', namespace: 'com.sforce.eventbus', symbols: [...changeTypeSymbols] } },
    { name: 'changeOrigin', type: 'string' },
    { name: 'transactionKey', type: 'string' },
    { name: 'sequenceNumber', type: 'int' },
    { name: 'commitTimestamp', type: 'long' },
    { name: 'commitNumber', type: 'long' },
    { name: 'commitUser', type: 'string' },
    { name: 'nulledFields', type: { type: 'array', items: 'string' } },
    { name: 'diffFields', type: { type: 'array', items: 'string' } },
    { name: 'changedFields', type: { type: 'array', items: 'string' } },
  ],
};

/** Components of the Name compound field of Contact and Lead, in the order change events carry them. */
export const personNameComponents = ['Salutation', 'FirstName', 'LastName', 'MiddleName', 'Suffix'];

function avroTypeOf(type: FieldType): { avro: string; doc: string } {
  switch (type) {
    case 'boolean':
      return { avro: 'boolean', doc: 'Data:Boolean' };
    case 'double':
      return { avro: 'double', doc: 'Data:Double' };
    case 'datetime':
      return { avro: 'long', doc: 'Data:DateTime' };
    case 'reference':
    case 'id':
      return { avro: 'string', doc: 'Data:EntityId' };
    case 'email':
      return { avro: 'string', doc: 'Data:Email' };
    case 'picklist':
      return { avro: 'string', doc: 'Data:DynamicEnum' };
    case 'textarea':
      return { avro: 'string', doc: 'Data:MultiLineText' };
    case 'string':
      return { avro: 'string', doc: 'Data:Text' };
  }
}

const optional = (name: string, type: FieldType): AvroField => {
  const { avro: avroType, doc } = avroTypeOf(type);
  return { name, type: ['null', avroType], doc, default: null };
};

/** The change event schema of an entity; Id is not a body field (the header carries recordIds). */
export function changeEventSchema(entity: string, fields: EntityField[]): AvroRecordSchema {
  const hasPersonName = entity === 'Contact' || entity === 'Lead';
  const body: AvroField[] = [];
  let nameAdded = false;
  for (const f of fields) {
    if (f.name === 'Id') continue;
    if (hasPersonName && (f.name === 'Name' || personNameComponents.includes(f.name))) {
      if (nameAdded) continue;
      nameAdded = true;
      body.push({
        name: 'Name',
        type: [
          'null',
          {
            type: 'record',
            name: 'PersonName',
            namespace: 'com.sforce.eventbus',
            fields: personNameComponents.map((c) => ({ name: c, type: ['null', 'string'], default: null })),
          },
        ],
        doc: 'Data:PersonName',
        default: null,
      });
      continue;
    }
    body.push(optional(f.name, f.type));
  }
  return {
    type: 'record',
    name: `${entity}ChangeEvent`,
    namespace: 'com.sforce.eventbus',
    fields: [{ name: 'ChangeEventHeader', type: changeEventHeader, doc: 'Data:ChangeEventHeader' }, ...body],
  };
}

/** Platform event field types the emulator knows; other custom fields are text. */
export type PlatformEventFieldTypes = Record<string, FieldType>;

export function platformEventSchema(name: string, fields: string[], types: PlatformEventFieldTypes): AvroRecordSchema {
  return {
    type: 'record',
    name,
    namespace: 'com.sforce.eventbus',
    fields: [
      { name: 'CreatedDate', type: 'long', doc: 'CreatedDate:DateTime' },
      { name: 'CreatedById', type: 'string', doc: 'CreatedBy:EntityId' },
      ...fields.map((f) => optional(f, types[f] ?? 'string')),
    ],
  };
}

export type RegisteredSchema = { id: string; json: string; schema: AvroRecordSchema; type: avro.Type };

/** Schemas served by GetSchema, by id; every schema an event was ever encoded with stays readable. */
export class SchemaRegistry {
  private readonly byId = new Map<string, RegisteredSchema>();

  register(schema: AvroRecordSchema): RegisteredSchema {
    const json = JSON.stringify(schema);
    // A fingerprint of the schema text (Salesforce: "Schema fingerprint ... which is a hash of the schema").
    const id = createHash('sha256').update(json).digest('base64url').slice(0, 22);
    const known = this.byId.get(id);
    if (known) return known;
    const registered = { id, json, schema, type: avro.Type.forSchema(schema as avro.Schema) };
    this.byId.set(id, registered);
    return registered;
  }

  get(id: string): RegisteredSchema | undefined {
    return this.byId.get(id);
  }
}
