// Change Data Capture messages as delivered over CometD (CDC Developer Guide: "Change Event Message
// Structure", "ChangeEventHeader Fields", "Change Event Body Fields", "Merged Events", "Enrich Change Events",
// "Gap Events", "Overflow Events"; shapes checked against fixtures/salesforce/cdc-cometd-*.json).
import { createHash, randomUUID } from 'node:crypto';
import type { ChannelMessage, EventBus } from './event-bus';
import type { RecordChange, RecordFields } from './org-data';

export interface CustomChannelConfig {
  /** API name, e.g. OptOutSync__chn; delivered on /data/<name>. */
  name: string;
  /** Entities that are members, e.g. ['Contact', 'Lead']. */
  members: string[];
  /** Enriched fields per member entity (sent on UPDATE/DELETE even when unchanged). */
  enrichedFields: Record<string, string[]>;
}

export type GapChangeType = 'GAP_CREATE' | 'GAP_UPDATE' | 'GAP_DELETE' | 'GAP_UNDELETE' | 'GAP_OVERFLOW';

export interface ChangeEventHeader {
  commitNumber: number;
  commitUser: string;
  sequenceNumber: number;
  entityName: string;
  changeType: string;
  changedFields: string[];
  changeOrigin: string;
  transactionKey: string;
  commitTimestamp: number;
  recordIds: string[];
  isTransactionEnd: boolean;
}

/** Name is a compound field on Contact and Lead: its components travel as Name.{FirstName,LastName}. */
const nameComponents = ['Salutation', 'FirstName', 'LastName', 'MiddleName', 'Suffix'];

export function schemaIdFor(entity: string): string {
  return createHash('sha256').update(`ChangeEvent:${entity}`).digest('base64url').slice(0, 22);
}

function bodyFor(change: RecordChange): { body: Record<string, unknown>; changedFields: string[] } {
  const body: Record<string, unknown> = {};
  const changedFields: string[] = [];
  const name: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(change.values)) {
    if (field === 'Name' && (change.entity === 'Contact' || change.entity === 'Lead')) continue;
    if (nameComponents.includes(field) && (change.entity === 'Contact' || change.entity === 'Lead')) {
      name[field] = value;
      changedFields.push(`Name.${field}`);
      continue;
    }
    body[field] = value;
    changedFields.push(field);
  }
  if (Object.keys(name).length > 0) body.Name = name;
  // changedFields is empty for every operation but UPDATE (CDC guide, ChangeEventHeader Fields).
  return { body, changedFields: change.changeType === 'UPDATE' ? changedFields : [] };
}

interface PendingEvent {
  entity: string;
  changeType: string;
  recordIds: string[];
  changedFields: string[];
  body: Record<string, unknown>;
  /** The record state per id, for enrichment on custom channels. */
  after: Map<string, RecordFields>;
  commitUser: string;
  changeOrigin: string;
  commitTimestamp: number;
}

export class ChangeEventPublisher {
  private commitNumber = 10_000_000_000 + Math.floor(Math.random() * 1_000_000);
  customChannels: CustomChannelConfig[];

  constructor(
    private readonly bus: EventBus,
    customChannels: CustomChannelConfig[],
    private readonly channelActive: (channel: CustomChannelConfig) => boolean,
  ) {
    this.customChannels = customChannels;
  }

  /**
   * Publishes the change events of one transaction. Updates that made the same change (same fields, same
   * values) to several records of one entity are merged into one event with many recordIds ("Merged Events").
   */
  publishTransaction(changes: RecordChange[]): ChannelMessage[] {
    const groups = new Map<string, PendingEvent>();
    for (const change of changes) {
      const { body, changedFields } = bodyFor(change);
      const key =
        change.changeType === 'UPDATE'
          ? JSON.stringify([change.entity, change.context, Object.entries(body).sort(([a], [b]) => a.localeCompare(b))])
          : `${change.entity}:${change.id}`;
      const existing = groups.get(key);
      if (existing) {
        existing.recordIds.push(change.id);
        existing.after.set(change.id, change.after);
        continue;
      }
      groups.set(key, {
        entity: change.entity,
        changeType: change.changeType,
        recordIds: [change.id],
        changedFields,
        body,
        after: new Map([[change.id, change.after]]),
        commitUser: change.context.userId,
        changeOrigin: change.context.changeOrigin,
        commitTimestamp: change.at.getTime(),
      });
    }
    return this.publishEvents([...groups.values()]);
  }

  /** Gap events carry the header and record ids only, no field data; overflow uses the wildcard id. */
  publishGap(
    entity: string,
    changeType: GapChangeType,
    recordIds: string[],
    commitUser: string,
    at: Date,
  ): ChannelMessage[] {
    return this.publishEvents([
      {
        entity,
        changeType,
        recordIds: changeType === 'GAP_OVERFLOW' ? ['000000000000000AAA'] : recordIds,
        changedFields: [],
        body: {},
        after: new Map(),
        commitUser,
        changeOrigin: '',
        commitTimestamp: at.getTime(),
      },
    ]);
  }

  private publishEvents(events: PendingEvent[]): ChannelMessage[] {
    const transactionKey = randomUUID();
    this.commitNumber += 1 + Math.floor(Math.random() * 5);
    const out: ChannelMessage[] = [];
    events.forEach((event, index) => {
      const header: ChangeEventHeader = {
        commitNumber: this.commitNumber,
        commitUser: event.commitUser,
        sequenceNumber: index + 1,
        entityName: event.entity,
        changeType: event.changeType,
        changedFields: event.changedFields,
        changeOrigin: event.changeOrigin,
        transactionKey,
        commitTimestamp: event.commitTimestamp,
        recordIds: event.recordIds,
        isTransactionEnd: index === events.length - 1,
      };
      const replayId = this.bus.nextReplayId();
      const plain = (channel: string): ChannelMessage => ({
        channel,
        data: {
          schema: schemaIdFor(event.entity),
          payload: { ...event.body, ChangeEventHeader: { ...header, recordIds: [...header.recordIds] } },
          event: { replayId },
        },
      });
      for (const channel of [`/data/${event.entity}ChangeEvent`, '/data/ChangeEvents']) {
        out.push(this.bus.publish(plain(channel)).message);
      }
      for (const custom of this.customChannels) {
        if (!custom.members.includes(event.entity) || !this.channelActive(custom)) continue;
        out.push(...this.publishOnCustomChannel(custom, event, header, replayId));
      }
    });
    return out;
  }

  private publishOnCustomChannel(
    custom: CustomChannelConfig,
    event: PendingEvent,
    header: ChangeEventHeader,
    replayId: number,
  ): ChannelMessage[] {
    const channel = `/data/${custom.name}`;
    const enriched = custom.enrichedFields[event.entity] ?? [];
    const enrich = enriched.length > 0 && (event.changeType === 'UPDATE' || event.changeType === 'DELETE');
    const message = (recordIds: string[], body: Record<string, unknown>): ChannelMessage => ({
      channel,
      data: {
        schema: schemaIdFor(event.entity),
        payload: { ...body, ChangeEventHeader: { ...header, recordIds } },
        event: { replayId },
      },
    });
    if (!enrich) return [this.bus.publish(message([...event.recordIds], event.body)).message];
    // Enriched events are not merged: one message per record id, all with the same replayId (CDC guide,
    // "Event Enrichment Considerations"). Empty enriched fields are omitted in CometD.
    return event.recordIds.map((id) => {
      const body = { ...event.body };
      const after = event.after.get(id) ?? {};
      for (const f of enriched) {
        const value = after[f];
        if (!(f in body) && value !== null && value !== undefined) body[f] = value;
      }
      return this.bus.publish(message([id], body)).message;
    });
  }
}
