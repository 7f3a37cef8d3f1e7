// Contact/Lead variants of the vendor's documented CDC and Platform Event messages: the fixtures are Account and
// Low_Ink__e events, so tests transform their JSON and keep the envelope exactly as Salesforce documents it.
import { readFixtureJson } from '../support/fixtures';
import { cdcChannel, optOutEvent } from '../../src/salesforce/package-names';

type Json = Record<string, unknown>;

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** The CDC guide's enriched Account update (a `data` object without envelope), wrapped as CometD delivers it. */
export function cdcUpdateMessage(overrides: {
  entityName?: 'Contact' | 'Lead' | 'Account';
  recordIds?: string[];
  changedFields?: string[];
  changeType?: string;
  changeOrigin?: string;
  commitUser?: string;
  fields?: Json;
  dropFields?: string[];
}): { channel: string; data: Json } {
  const data = clone(readFixtureJson('salesforce/cdc-cometd-account-update-enriched__cdc-guide-v236.json')) as Json;
  const payload = data.payload as Json;
  const header = payload.ChangeEventHeader as Json;
  // Account-only body fields of the fixture give way to the Contact/Lead ones under test.
  delete payload.Industry;
  delete payload.External_Account_ID__c;
  delete payload.Fax;
  header.entityName = overrides.entityName ?? 'Contact';
  header.recordIds = overrides.recordIds ?? ['003RM000004UF9sYAG'];
  header.changedFields = overrides.changedFields ?? ['HasOptedOutOfEmail', 'LastModifiedDate'];
  if (overrides.changeType) header.changeType = overrides.changeType;
  if (overrides.changeOrigin !== undefined) header.changeOrigin = overrides.changeOrigin;
  if (overrides.commitUser !== undefined) header.commitUser = overrides.commitUser;
  Object.assign(payload, { HasOptedOutOfEmail: true, Email: 'Ada.Lovelace@example.com' }, overrides.fields ?? {});
  for (const field of overrides.dropFields ?? []) delete payload[field];
  return { channel: cdcChannel.channel, data };
}

/** The Message Durability CREATE example (full CometD envelope) turned into a Contact or Lead create. */
export function cdcCreateMessage(
  entityName: 'Contact' | 'Lead',
  fields: Json,
  changeType: 'CREATE' | 'UNDELETE' = 'CREATE',
): { channel: string; data: Json } {
  const message = clone(readFixtureJson('salesforce/cdc-cometd-account-create__message-durability-v67.json')) as Json;
  const data = message.data as Json;
  const payload = data.payload as Json;
  const header = payload.ChangeEventHeader as Json;
  delete payload.Name;
  delete payload.Description;
  header.entityName = entityName;
  header.changeType = changeType;
  header.recordIds = [entityName === 'Contact' ? '003000000000001AAA' : '00Q000000000001AAA'];
  header.commitUser = '005000000000001AAA';
  Object.assign(payload, { LastName: 'Lovelace', Email: 'ada@example.com' }, fields);
  return { channel: cdcChannel.channel, data };
}

export function cdcDeleteMessage(): { channel: string; data: Json } {
  const data = clone(readFixtureJson('salesforce/cdc-cometd-account-delete-enriched__cdc-guide-v236.json')) as Json;
  const payload = data.payload as Json;
  delete payload.Industry;
  delete payload.External_Account_ID__c;
  (payload.ChangeEventHeader as Json).entityName = 'Contact';
  (payload.ChangeEventHeader as Json).recordIds = ['003RM000004UF9sYAG'];
  payload.Email = 'ada@example.com';
  return { channel: cdcChannel.channel, data };
}

/** The Low_Ink__e example re-shaped into OptOut_Change__e: same envelope (schema, EventUuid, replayId). */
export function relayEventMessage(fields: Json = {}): { channel: string; data: Json } {
  const message = clone(readFixtureJson('salesforce/pe-cometd-low-ink__message-durability-v67.json')) as Json;
  const data = message.data as Json;
  const payload = data.payload as Json;
  for (const key of ['Printer_Model__c', 'Serial_Number__c', 'Ink_Percentage__c']) delete payload[key];
  const f = optOutEvent.fields;
  Object.assign(
    payload,
    {
      [f.recordId]: '00Q000000000002AAA',
      [f.objectName]: 'Lead',
      [f.email]: 'grace@example.com',
      [f.optedOut]: true,
      [f.changedAt]: '2023-04-09T18:31:40.000Z',
      [f.changedBy]: '005D0000001cSZsAAA',
      [f.changeOrigin]: 'com/salesforce/api/rest/62.0;client=SfdcInternalAPI/',
      [f.source]: 'CDC_RELAY',
    },
    fields,
  );
  return { channel: optOutEvent.channel, data };
}
