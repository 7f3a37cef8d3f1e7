// Turns an event of the bus (kept in its CometD JSON shape) into the Avro record the Pub/Sub API delivers.
// Differences documented in "Differences Between Change Events Received with Streaming API vs. Pub/Sub API" and
// "Event Deserialization Considerations": every field of the schema is present (unchanged and empty ones are null),
// date-times are epoch milliseconds, and ChangeEventHeader.changedFields / nulledFields / diffFields are bitmaps:
// the first element a hex string whose bit N stands for field N of the schema, then one `N-0x..` element per
// compound field N whose own fields are named by a bitmap of the nested record.
import type { ChannelMessage } from '../event-bus';
import type { AvroField, AvroRecordSchema } from './avro-schemas';

/** A bitmap of field positions as Salesforce writes it: `0x` and upper-case hex, whole bytes. */
export function positionsToHex(positions: number[]): string {
  let bits = 0n;
  for (const p of positions) bits |= 1n << BigInt(p);
  let hex = bits.toString(16).toUpperCase();
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return `0x${hex}`;
}

function nestedRecord(field: AvroField): AvroRecordSchema | null {
  const branches = Array.isArray(field.type) ? field.type : [field.type];
  for (const b of branches) {
    if (typeof b === 'object' && b !== null && (b as { type?: unknown }).type === 'record') return b as AvroRecordSchema;
  }
  return null;
}

/** Field names (`Email`, `Name.FirstName`) as a bitmap field against the schema's field positions. */
export function encodeFieldBitmap(schema: AvroRecordSchema, names: string[]): string[] {
  if (names.length === 0) return [];
  const top: number[] = [];
  const nested = new Map<number, number[]>();
  for (const name of names) {
    const [parent, child] = name.split('.', 2) as [string, string | undefined];
    const index = schema.fields.findIndex((f) => f.name === parent);
    if (index < 0) continue;
    const field = schema.fields[index]!;
    const record = nestedRecord(field);
    if (child === undefined || record === null) {
      if (record !== null) {
        // The whole compound field: every component.
        nested.set(index, record.fields.map((_, i) => i));
      } else {
        top.push(index);
      }
      continue;
    }
    const childIndex = record.fields.findIndex((f) => f.name === child);
    if (childIndex >= 0) nested.set(index, [...(nested.get(index) ?? []), childIndex]);
  }
  const out = [positionsToHex(top)];
  for (const [index, children] of [...nested.entries()].sort(([a], [b]) => a - b)) {
    out.push(`${index}-${positionsToHex(children)}`);
  }
  return out;
}

function isDateTime(field: AvroField): boolean {
  return typeof field.doc === 'string' && /(^|:)DateTime(:|$)/.test(field.doc);
}

function toAvroValue(field: AvroField, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (isDateTime(field)) {
    const ms = typeof value === 'number' ? value : Date.parse(String(value));
    return Number.isFinite(ms) ? ms : null;
  }
  const record = nestedRecord(field);
  if (record !== null && typeof value === 'object') {
    const inner = value as Record<string, unknown>;
    return Object.fromEntries(record.fields.map((f) => [f.name, toAvroValue(f, inner[f.name])]));
  }
  return value;
}

/** The Avro record of a change event message. */
export function changeEventRecord(schema: AvroRecordSchema, message: ChannelMessage): Record<string, unknown> {
  const payload = message.data.payload;
  const header = payload.ChangeEventHeader as Record<string, unknown>;
  const changed = Array.isArray(header.changedFields) ? (header.changedFields as string[]) : [];
  const isUpdate = header.changeType === 'UPDATE';
  // A changed field whose new value is null was nulled; a nulled compound component counts too.
  const nulled = isUpdate
    ? changed.filter((name) => {
        const [parent, child] = name.split('.', 2) as [string, string | undefined];
        const value = payload[parent];
        if (child === undefined) return value === null;
        return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[child] === null;
      })
    : [];
  const record: Record<string, unknown> = {
    ChangeEventHeader: {
      entityName: header.entityName,
      recordIds: header.recordIds,
      changeType: header.changeType,
      changeOrigin: header.changeOrigin ?? '',
      transactionKey: header.transactionKey ?? '',
      sequenceNumber: header.sequenceNumber ?? 1,
      commitTimestamp: header.commitTimestamp,
      commitNumber: header.commitNumber ?? 0,
      commitUser: header.commitUser ?? '',
      nulledFields: encodeFieldBitmap(schema, nulled),
      // Large text fields sent as a diff: the emulated objects have none.
      diffFields: [],
      changedFields: isUpdate ? encodeFieldBitmap(schema, changed) : [],
    },
  };
  for (const field of schema.fields) {
    if (field.name === 'ChangeEventHeader') continue;
    record[field.name] = toAvroValue(field, payload[field.name]);
  }
  return record;
}

/** The Avro record of a platform event message. */
export function platformEventRecord(schema: AvroRecordSchema, message: ChannelMessage): Record<string, unknown> {
  const payload = message.data.payload;
  const record: Record<string, unknown> = {};
  for (const field of schema.fields) record[field.name] = toAvroValue(field, payload[field.name]);
  return record;
}

/** The JSON fields of a platform event from its decoded Avro record (Publish): date-times back to ISO text. */
export function platformEventFields(schema: AvroRecordSchema, record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of schema.fields) {
    if (field.name === 'CreatedDate' || field.name === 'CreatedById') continue;
    const value = record[field.name];
    out[field.name] = isDateTime(field) && typeof value === 'number' ? new Date(value).toISOString() : (value ?? null);
  }
  return out;
}
