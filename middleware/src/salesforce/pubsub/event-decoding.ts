// Decodes Pub/Sub API events into the message shape the CometD path delivers, so both transports feed the intake
// the same normalised changes. Sources: "Event Deserialization Considerations" (bitmap fields, first element for
// top-level fields, `N-0x..` for the components of compound field N), "Differences Between Change Events Received
// with Streaming API vs. Pub/Sub API" (Pub/Sub carries every field, unchanged ones null, date-times as epoch
// milliseconds; CometD omits null and unchanged fields and writes date-times as ISO text), and Salesforce's Java
// and Python samples for the bitmap arithmetic (bit N set = field N of the Avro schema, hex read as one number).
import avro from 'avsc';
import { z } from 'zod';

export type AvroSchemaField = { name: string; type: unknown; doc?: string };
type AvroRecord = { type: 'record'; name: string; fields: AvroSchemaField[] };

const recordSchema: z.ZodType<AvroRecord> = z.object({
  type: z.literal('record'),
  name: z.string().min(1),
  fields: z.array(z.object({ name: z.string().min(1), type: z.unknown(), doc: z.string().optional() }).loose()),
}).loose() as unknown as z.ZodType<AvroRecord>;

/**
 * Salesforce longs such as commitNumber exceed 2^53; avsc refuses those ("potential precision loss"). They are
 * read as JavaScript numbers like JSON.parse reads them from CometD, so both paths see the same value.
 */
const lossyLong = avro.types.LongType.__with({
  fromBuffer: (buffer: Buffer) => Number(buffer.readBigInt64LE()),
  toBuffer: (n: number) => {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64LE(BigInt(Math.trunc(n)));
    return buffer;
  },
  fromJSON: Number,
  toJSON: (n: number) => n,
  isValid: (n: unknown) => typeof n === 'number' && Number.isFinite(n),
  compare: (a: number, b: number) => a - b,
});

export type DecodingSchema = { id: string; schema: AvroRecord; type: avro.Type };

export function parseSchema(id: string, json: string): DecodingSchema {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error(`schema ${id}: schema_json is not JSON`);
  }
  const parsed = recordSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`schema ${id}: not an Avro record schema (${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'})`);
  }
  return { id, schema: parsed.data, type: avro.Type.forSchema(raw as avro.Schema, { registry: { long: lossyLong } }) };
}

/** Schemas by id, fetched once with GetSchema; concurrent misses share one call. */
export class SchemaCache {
  private readonly known = new Map<string, Promise<DecodingSchema>>();

  constructor(private readonly fetchSchema: (schemaId: string) => Promise<{ schemaId: string; schemaJson: string }>) {}

  get(schemaId: string): Promise<DecodingSchema> {
    const cached = this.known.get(schemaId);
    if (cached) return cached;
    const loading = this.fetchSchema(schemaId).then(({ schemaJson }) => parseSchema(schemaId, schemaJson));
    // A failed fetch is not cached: the next event asks again.
    loading.catch(() => this.known.delete(schemaId));
    this.known.set(schemaId, loading);
    return loading;
  }

  size(): number {
    return this.known.size;
  }
}

function unionBranches(type: unknown): unknown[] {
  return Array.isArray(type) ? type : [type];
}

function nestedRecord(field: AvroSchemaField): AvroRecord | null {
  for (const branch of unionBranches(field.type)) {
    const parsed = recordSchema.safeParse(branch);
    if (parsed.success) return parsed.data;
  }
  return null;
}

function bitPositions(hex: string, what: string): number[] {
  if (!/^0x[0-9a-fA-F]*$/.test(hex)) throw new Error(`${what}: "${hex}" is not a hex bitmap`);
  const bits = hex.length > 2 ? BigInt(hex) : 0n;
  const out: number[] = [];
  for (let i = 0; bits >> BigInt(i) > 0n; i++) if ((bits >> BigInt(i)) & 1n) out.push(i);
  return out;
}

/**
 * Field names of a bitmap field (`['0x650004E0', '4-0x10']`): top-level names, then `Parent.Child` for compound
 * components; a compound whose every component is named counts as the compound itself (Salesforce's samples).
 */
export function decodeFieldBitmap(schema: AvroRecord, bitmaps: readonly string[], what = 'bitmap'): string[] {
  const names: string[] = [];
  for (const entry of bitmaps) {
    if (entry.startsWith('0x')) {
      for (const p of bitPositions(entry, what)) {
        const field = schema.fields[p];
        if (!field) throw new Error(`${what}: bit ${p} is past the schema's ${schema.fields.length} fields`);
        names.push(field.name);
      }
      continue;
    }
    const match = /^(\d+)-(0x[0-9a-fA-F]*)$/.exec(entry);
    if (!match) throw new Error(`${what}: "${entry}" is neither a bitmap nor a compound-field bitmap`);
    const parent = schema.fields[Number(match[1])];
    const nested = parent ? nestedRecord(parent) : null;
    if (!parent || !nested) throw new Error(`${what}: field ${match[1]} is not a compound field`);
    const children = bitPositions(match[2]!, what).map((p) => {
      const child = nested.fields[p];
      if (!child) throw new Error(`${what}: bit ${p} is past ${parent.name}'s ${nested.fields.length} fields`);
      return `${parent.name}.${child.name}`;
    });
    if (children.length === nested.fields.length) names.push(parent.name);
    else names.push(...children);
  }
  return names;
}

function isDateTime(field: AvroSchemaField): boolean {
  return typeof field.doc === 'string' && /(^|:)DateTime(:|$)/.test(field.doc);
}

/** Unwraps avsc's `{ branchName: value }` form of a union with several non-null branches. */
function unwrapUnion(field: AvroSchemaField, value: unknown): unknown {
  const branches = unionBranches(field.type).filter((b) => b !== 'null');
  if (branches.length > 1 && typeof value === 'object' && value !== null) {
    const keys = Object.keys(value);
    if (keys.length === 1) return (value as Record<string, unknown>)[keys[0]!];
  }
  return value;
}

function toJsonValue(field: AvroSchemaField, value: unknown): unknown {
  const unwrapped = unwrapUnion(field, value);
  if (unwrapped === null || unwrapped === undefined) return null;
  if (isDateTime(field) && typeof unwrapped === 'number') return new Date(unwrapped).toISOString();
  const nested = nestedRecord(field);
  if (nested && typeof unwrapped === 'object') {
    const inner = unwrapped as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const f of nested.fields) {
      const v = toJsonValue(f, inner[f.name]);
      if (v !== null) out[f.name] = v;
    }
    return out;
  }
  return unwrapped;
}

export type CometdShapedMessage = {
  channel: string;
  data: {
    schema: string;
    payload: Record<string, unknown>;
    event: { replayId: string; EventUuid: string };
  };
};

const headerBitmaps = z.object({
  changedFields: z.array(z.string()).default([]),
  nulledFields: z.array(z.string()).default([]),
  diffFields: z.array(z.string()).default([]),
}).loose();

/**
 * The CometD form of a decoded event: change events keep the fields CometD would carry (non-null values, plus the
 * fields nulledFields names, as null), with the header's bitmaps turned into field names; platform events keep
 * every field. Date-times become ISO text. Throws with the field at fault when the record is not decodable.
 */
export function toCometdShape(
  channel: string,
  decoding: DecodingSchema,
  record: Record<string, unknown>,
  replayId: string,
  eventUuid: string,
): CometdShapedMessage {
  const payload: Record<string, unknown> = {};
  const isChangeEvent = decoding.schema.fields[0]?.name === 'ChangeEventHeader';
  let nulled = new Set<string>();
  if (isChangeEvent) {
    const header = headerBitmaps.safeParse(record.ChangeEventHeader);
    if (!header.success) throw new Error(`ChangeEventHeader: ${header.error.issues[0]?.message ?? 'invalid'}`);
    const changedFields = decodeFieldBitmap(decoding.schema, header.data.changedFields, 'ChangeEventHeader.changedFields');
    const nulledFields = decodeFieldBitmap(decoding.schema, header.data.nulledFields, 'ChangeEventHeader.nulledFields');
    const diffFields = decodeFieldBitmap(decoding.schema, header.data.diffFields, 'ChangeEventHeader.diffFields');
    nulled = new Set(nulledFields);
    payload.ChangeEventHeader = { ...header.data, changedFields, nulledFields, diffFields };
  }
  for (const field of decoding.schema.fields) {
    if (field.name === 'ChangeEventHeader') continue;
    const value = toJsonValue(field, record[field.name]);
    if (value !== null) payload[field.name] = value;
    else if (!isChangeEvent || nulled.has(field.name)) payload[field.name] = null;
  }
  return { channel, data: { schema: decoding.id, payload, event: { replayId, EventUuid: eventUuid } } };
}

/** Stored form of an opaque Pub/Sub replay id: tagged base64, never mistaken for a CometD replay id. */
const replayPrefix = 'pubsub:';

export function replayIdToText(bytes: Uint8Array): string {
  return `${replayPrefix}${Buffer.from(bytes).toString('base64')}`;
}

export function replayIdFromText(text: string): Buffer | null {
  if (!text.startsWith(replayPrefix)) return null;
  const body = text.slice(replayPrefix.length);
  if (!/^[A-Za-z0-9+/]+=*$/.test(body)) return null;
  return Buffer.from(body, 'base64');
}
