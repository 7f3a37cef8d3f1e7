// Platform Events: published like sObject inserts (REST `POST /sobjects/<Name>__e`, "Publish Event Messages
// with Salesforce APIs", Platform Events Developer Guide) and delivered on /event/<Name>__e with CreatedDate,
// CreatedById, the event fields, and event.{EventUuid, replayId} (fixture pe-cometd-low-ink__*.json).
import { createHash, randomUUID } from 'node:crypto';
import type { EventBus } from './event-bus';
import type { IdFactory } from './salesforce-ids';
import type { FieldValue } from './sobject-schema';
import { SalesforceApiError } from './salesforce-errors';

export interface PlatformEventConfig {
  /** API name, e.g. OptOut_Change__e. */
  name: string;
  /** Custom fields; undefined accepts any `__c` field. Missing fields are delivered as null. */
  fields?: string[];
  /** Part of the package: exists only while the package is installed. */
  packaged?: boolean;
}

/** The package's relay event (force-app objects/OptOut_Change__e); written out here, not imported. */
export const optOutChangeEvent: PlatformEventConfig = {
  name: 'OptOut_Change__e',
  fields: [
    'Record_Id__c',
    'Object_Name__c',
    'Email__c',
    'Opted_Out__c',
    'Changed_At__c',
    'Changed_By__c',
    'Change_Origin__c',
    'Source__c',
  ],
  packaged: true,
};

export interface PublishedPlatformEvent {
  id: string;
  eventUuid: string;
  replayId: number;
}

export class PlatformEventPublisher {
  constructor(
    private readonly bus: EventBus,
    readonly events: PlatformEventConfig[],
    private readonly packageInstalled: () => boolean,
    private readonly ids: IdFactory,
  ) {}

  find(name: string): PlatformEventConfig | undefined {
    const config = this.events.find((e) => e.name.toLowerCase() === name.toLowerCase());
    if (!config || (config.packaged && !this.packageInstalled())) return undefined;
    return config;
  }

  channelExists(channel: string): boolean {
    return channel.startsWith('/event/') && this.find(channel.slice('/event/'.length))?.name === channel.slice(7);
  }

  publish(name: string, input: Record<string, unknown>, userId: string, at: Date): PublishedPlatformEvent {
    const config = this.find(name);
    if (!config) throw new SalesforceApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
    const fields: Record<string, FieldValue> = {};
    for (const f of config.fields ?? []) fields[f] = null;
    for (const [key, value] of Object.entries(input)) {
      if (key === 'attributes') continue;
      const known = config.fields
        ? config.fields.find((f) => f.toLowerCase() === key.toLowerCase())
        : key.endsWith('__c')
          ? key
          : undefined;
      if (!known)
        throw new SalesforceApiError(400, 'INVALID_FIELD', `No such column '${key}' on sobject of type ${config.name}`);
      if (value !== null && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new SalesforceApiError(400, 'JSON_PARSER_ERROR', `Cannot deserialize value of field ${known}`);
      }
      fields[known] = value;
    }
    const eventUuid = randomUUID();
    const replayId = this.bus.nextReplayId();
    this.bus.publish({
      channel: `/event/${config.name}`,
      data: {
        schema: createHash('sha256').update(`PlatformEvent:${config.name}`).digest('base64url').slice(0, 22),
        payload: { CreatedDate: at.toISOString(), CreatedById: userId, ...fields },
        event: { EventUuid: eventUuid, replayId },
      },
    });
    // The publish result's id is not the event's identity ("isn't always unique"); EventUuid is.
    return { id: this.ids.next('e00'), eventUuid, replayId };
  }
}
