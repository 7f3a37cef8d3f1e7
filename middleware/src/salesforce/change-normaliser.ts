// Turns a CometD message from the CDC custom channel or the relay Platform Event into the one model the sync
// works on. Shapes follow the CDC Developer Guide ("Change Event Message Structure", "ChangeEventHeader Fields",
// "Gap Events", "Overflow Events") and the Message Durability examples (fixtures/salesforce/).
import { z } from 'zod';
import { optOutEvent, syncedObjects, type SyncedObject } from './package-names';
import { MessageRejectedError } from './salesforce-errors';

/** EMAIL_CHANGE: a record's Email changed; if it is opted out, its new address must be unsubscribed too (R1). */
/** RECONCILE: the full reconciliation read the record (reconcile/full-reconciler.ts). */
export type OptOutChangeSource = 'CDC' | 'CDC_RELAY' | 'FLOW' | 'RESYNC' | 'GAP' | 'EMAIL_CHANGE' | 'RECONCILE';

export type OptOutChange = {
  recordId: string;
  objectName: SyncedObject;
  email: string | null;
  optedOut: boolean;
  changedAt: Date;
  changedBy: string | null;
  changeOrigin: string;
  source: OptOutChangeSource;
  transactionKey: string | null;
  replayId: string;
  channel: string;
};

export type ChangeGap = { objectName: SyncedObject; recordIds: string[]; overflow: boolean };

export type NormaliseResult = {
  changes: OptOutChange[];
  /** Records to re-query (GAP_*), or whole objects to reconcile (overflow: GAP_OVERFLOW, wildcard record ids). */
  gaps: ChangeGap[];
  /** Record-level changes this product wrote itself (R6), dropped. */
  echoes: number;
  /** Record-level changes that are not opt-out changes (other fields, deletes, other objects), dropped. */
  ignored: number;
  /**
   * Every Contact/Lead the event says was created or modified, with its commit time, whatever changed (echoes and
   * other fields too): how far the stream has caught up with each record (sync/opt-out-recency.ts).
   */
  touched: { recordId: string; at: Date }[];
  /**
   * Records whose Email changed without an opt-out change: if they are opted out, R1 applies to the new address
   * (the intake reads their opt-out value; an UPDATE carries only the fields that changed).
   */
  emailChanges?: { objectName: SyncedObject; recordIds: string[]; email: string; at: Date }[];
};

export type NormaliseOptions = {
  /** API name of the opt-out checkbox (settings Opt_Out_Field__c), HasOptedOutOfEmail by default. */
  optOutField?: string;
  productClientId: string;
  /** The integration user's id: CDC commitUser equal to it marks this product's own writes. */
  integrationUserId: string | null;
};

// Salesforce sends replay ids as JSON numbers; they are opaque, so they are kept as strings from here on.
const replayIdSchema = z.union([z.number().int(), z.string().min(1)]).transform((value) => String(value));

const envelopeSchema = z.object({
  channel: z.string().optional(),
  data: z.object({
    schema: z.string().optional(),
    payload: z.record(z.string(), z.unknown()),
    event: z.object({ replayId: replayIdSchema, EventUuid: z.string().optional() }),
  }),
});

const changeTypes = [
  'CREATE',
  'UPDATE',
  'DELETE',
  'UNDELETE',
  'SNAPSHOT',
  'GAP_CREATE',
  'GAP_UPDATE',
  'GAP_DELETE',
  'GAP_UNDELETE',
  'GAP_OVERFLOW',
] as const;

const headerSchema = z.object({
  entityName: z.string().min(1),
  recordIds: z.array(z.string()),
  changeType: z.enum(changeTypes),
  // Empty for changes that neither an API client nor Lightning Experience made (CDC guide).
  changeOrigin: z.string().nullish(),
  transactionKey: z.string().nullish(),
  sequenceNumber: z.number().optional(),
  commitTimestamp: z.number().int().nonnegative(),
  commitNumber: z.number().optional(),
  commitUser: z.string().nullish(),
  // Delivered to CometD clients since API 47.0; empty for anything but updates.
  changedFields: z.array(z.string()).optional(),
});

const recordIdOrWildcard = /^([A-Za-z0-9]{15}|[A-Za-z0-9]{18}|[A-Za-z0-9]{3}\*)$/;

const isoDateTime = z
  .string()
  .refine((value) => !Number.isNaN(Date.parse(value)), 'not a date-time')
  .transform((value) => new Date(value));

const relayFields = optOutEvent.fields;
const relayPayloadSchema = z.object({
  // Empty when the relay asks for the whole object to be reconciled (GAP_OVERFLOW, a wildcard id, a relay error).
  [relayFields.recordId]: z.string().regex(/^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/, 'not a record id').nullish(),
  [relayFields.objectName]: z.enum(syncedObjects),
  [relayFields.email]: z.string().nullish(),
  [relayFields.optedOut]: z.boolean(),
  [relayFields.changedAt]: isoDateTime.nullish(),
  [relayFields.changedBy]: z.string().nullish(),
  [relayFields.changeOrigin]: z.string().nullish(),
  [relayFields.source]: z.enum(optOutEvent.sources),
  CreatedDate: isoDateTime.optional(),
});

function reject(error: z.ZodError, prefix: (string | number)[]): never {
  const issue = error.issues[0];
  const path = [...prefix, ...(issue?.path ?? [])].map(String).join('.');
  throw new MessageRejectedError(path, issue?.message ?? 'invalid');
}

function parseOrReject<S extends z.ZodType>(schema: S, value: unknown, prefix: (string | number)[]): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) reject(parsed.error, prefix);
  return parsed.data;
}

/** Salesforce ids compare case-sensitively on their first 15 characters (the 18-character form adds a checksum). */
export function sameSalesforceId(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  return a.slice(0, 15) === b.slice(0, 15);
}

/** changeOrigin looks like `com/salesforce/api/rest/62.0;client=<id>` (CDC guide, changeOrigin). */
export function originClientId(changeOrigin: string | null | undefined): string | null {
  const match = changeOrigin ? /(?:^|;)\s*client=([^;/]*)/.exec(changeOrigin) : null;
  return match?.[1] ?? null;
}

function isEcho(
  changeOrigin: string | null | undefined,
  user: string | null | undefined,
  options: NormaliseOptions,
): boolean {
  return originClientId(changeOrigin) === options.productClientId || sameSalesforceId(user, options.integrationUserId);
}

function asSyncedObject(name: string): SyncedObject | null {
  return (syncedObjects as readonly string[]).includes(name) ? (name as SyncedObject) : null;
}

function emptyResult(): NormaliseResult {
  return { changes: [], gaps: [], echoes: 0, ignored: 0, touched: [] };
}

function normaliseChangeEvent(
  channel: string,
  payload: Record<string, unknown>,
  replayId: string,
  options: NormaliseOptions,
): NormaliseResult {
  const result = emptyResult();
  const header = parseOrReject(headerSchema, payload.ChangeEventHeader, ['data', 'payload', 'ChangeEventHeader']);
  const objectName = asSyncedObject(header.entityName);
  // Person accounts raise an Account event next to the Contact one (CDC guide, person accounts): only the
  // Contact event counts, so every other entity is ignored here.
  if (!objectName) {
    result.ignored += header.recordIds.length;
    return result;
  }
  // A wildcard such as `003*` stands for every record of the object (data-losing field type conversions).
  header.recordIds.forEach((id, index) => {
    if (!recordIdOrWildcard.test(id)) {
      throw new MessageRejectedError(`data.payload.ChangeEventHeader.recordIds.${index}`, 'not a record id');
    }
  });
  const recordIds = header.recordIds.filter((id) => !id.endsWith('*'));
  if (recordIds.length < header.recordIds.length) {
    result.gaps.push({ objectName, recordIds: [], overflow: true });
  }

  if (header.changeType === 'GAP_OVERFLOW') {
    // More than 100,000 changes in one transaction: no ids worth having (000000000000000AAA), reconcile the object.
    result.gaps.push({ objectName, recordIds: [], overflow: true });
    return result;
  }
  if (header.changeType.startsWith('GAP_')) {
    // Gap events carry no field data: re-query the records (CDC guide, "Gap Events").
    if (recordIds.length > 0) result.gaps.push({ objectName, recordIds, overflow: false });
    return result;
  }
  if (header.changeType === 'DELETE' || header.changeType === 'SNAPSHOT') {
    result.ignored += recordIds.length;
    return result;
  }
  result.touched.push(...recordIds.map((recordId) => ({ recordId, at: new Date(header.commitTimestamp) })));

  const field = options.optOutField ?? 'HasOptedOutOfEmail';
  const raw = payload[field];
  // Updates carry only changed fields; creates and undeletes carry every non-empty field and an empty changedFields.
  const relevant = header.changeType === 'UPDATE' ? (header.changedFields ?? []).includes(field) : raw === true;
  if (!relevant) {
    const newEmail = header.changeType === 'UPDATE' && (header.changedFields ?? []).includes('Email') && !isEcho(header.changeOrigin, header.commitUser, options) ? checkedEmail(payload.Email, 'data.payload.Email') : undefined;
    if (newEmail !== undefined && newEmail !== null && newEmail.trim() !== '') {
      (result.emailChanges ??= []).push({ objectName, recordIds, email: newEmail, at: new Date(header.commitTimestamp) });
      return result;
    }
    result.ignored += recordIds.length;
    return result;
  }
  if (isEcho(header.changeOrigin, header.commitUser, options)) {
    result.echoes += recordIds.length;
    return result;
  }
  if (raw === undefined || raw === null) {
    // changedFields names the field but the body lacks it (e.g. hidden by field-level security): the value is
    // unknown, so re-query rather than guess.
    result.gaps.push({ objectName, recordIds, overflow: false });
    return result;
  }
  if (typeof raw !== 'boolean') {
    throw new MessageRejectedError(`data.payload.${field}`, 'expected a boolean');
  }
  const email = checkedEmail(payload.Email, 'data.payload.Email');
  for (const recordId of recordIds) {
    result.changes.push({
      recordId,
      objectName,
      // Enriched Email on the custom channel, or the body's Email on create/undelete or when it changed too.
      email: email ?? null,
      optedOut: raw,
      changedAt: new Date(header.commitTimestamp),
      changedBy: header.commitUser ?? null,
      changeOrigin: header.changeOrigin ?? '',
      source: 'CDC',
      transactionKey: header.transactionKey ?? null,
      replayId,
      channel,
    });
  }
  return result;
}

function normaliseRelayEvent(
  channel: string,
  payload: Record<string, unknown>,
  replayId: string,
  options: NormaliseOptions,
): NormaliseResult {
  const result = emptyResult();
  const event = parseOrReject(relayPayloadSchema, payload, ['data', 'payload']);
  const recordId = event[relayFields.recordId];
  const objectName = event[relayFields.objectName];
  if (recordId === undefined || recordId === null) {
    // The relay names no record: reconcile the object, as for GAP_OVERFLOW on the CDC channel.
    result.gaps.push({ objectName, recordIds: [], overflow: true });
    return result;
  }
  const changedAt = event[relayFields.changedAt] ?? event.CreatedDate;
  if (!changedAt) throw new MessageRejectedError(`data.payload.${relayFields.changedAt}`, 'missing');
  const changeOrigin = event[relayFields.changeOrigin] ?? '';
  const changedBy = event[relayFields.changedBy] ?? null;
  if (isEcho(changeOrigin, changedBy, options)) {
    result.echoes += 1;
    return result;
  }
  result.changes.push({
    recordId,
    objectName,
    email: checkedEmail(event[relayFields.email], `data.payload.${relayFields.email}`),
    optedOut: event[relayFields.optedOut],
    changedAt,
    changedBy,
    changeOrigin,
    source: event[relayFields.source],
    transactionKey: null,
    replayId,
    channel,
  });
  return result;
}

/**
 * Normalises one CometD message (`{channel, data: {schema?, payload, event: {replayId, EventUuid?}}}`).
 * Throws MessageRejectedError, naming the field path, when the message is not the documented shape.
 */
export function normaliseMessage(channel: string, raw: unknown, options: NormaliseOptions): NormaliseResult {
  const envelope = parseOrReject(envelopeSchema, raw, []);
  if (envelope.channel !== undefined && envelope.channel !== channel) {
    throw new MessageRejectedError('channel', `message is for ${envelope.channel}, not ${channel}`);
  }
  const { payload, event } = envelope.data;
  if (channel.startsWith('/data/')) return normaliseChangeEvent(channel, payload, event.replayId, options);
  if (channel === optOutEvent.channel) return normaliseRelayEvent(channel, payload, event.replayId, options);
  throw new MessageRejectedError('channel', `no normaliser for channel ${channel}`);
}

/**
 * An email the rest of the product can use as a key: a string of at most 254 characters (RFC 5321), well-formed
 * text without NUL (PostgreSQL text and jsonb refuse both), and shaped like an address. Absent stays null (the
 * caller re-reads the record); anything else rejects the message with the field's path.
 */
function checkedEmail(value: unknown, path: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new MessageRejectedError(path, 'expected a string');
  if (value.length > 254) throw new MessageRejectedError(path, `too long (${value.length} characters, at most 254)`);
  if (value.includes('\u0000') || !value.isWellFormed()) throw new MessageRejectedError(path, 'contains a NUL byte or malformed text');
  if (!/^[^\s@]+@[^\s@]+$/.test(value.trim())) throw new MessageRejectedError(path, 'not an email address');
  return value;
}
