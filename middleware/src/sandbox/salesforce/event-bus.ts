// The event bus behind CometD: every published event gets a replay id and is kept per channel for the
// retention window (72 h for change events and high-volume platform events, "Message Durability",
// Streaming API Developer Guide). Replay ids only increase; across channels they are not contiguous.

export interface ChannelMessage {
  channel: string;
  data: {
    schema: string;
    payload: Record<string, unknown>;
    event: { replayId: number; EventUuid?: string };
  };
}

export interface RetainedEvent {
  replayId: number;
  publishedAt: number;
  message: ChannelMessage;
}

export type BusListener = (event: RetainedEvent) => void;

export const defaultRetentionMs = 72 * 60 * 60 * 1000;

export class EventBus {
  private lastReplayId = 0;
  private readonly logs = new Map<string, RetainedEvent[]>();
  private readonly listeners = new Set<BusListener>();
  retentionMs: number;

  constructor(
    private readonly now: () => Date,
    retentionMs = defaultRetentionMs,
  ) {
    this.retentionMs = retentionMs;
  }

  onPublish(listener: BusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Allocates the replay id of one event; copies of it on several channels share it. */
  nextReplayId(): number {
    this.lastReplayId += 1;
    return this.lastReplayId;
  }

  publish(message: ChannelMessage): RetainedEvent {
    const event: RetainedEvent = { replayId: message.data.event.replayId, publishedAt: this.now().getTime(), message };
    const log = this.logs.get(message.channel) ?? [];
    log.push(event);
    this.logs.set(message.channel, log);
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /** Events of a channel still inside the retention window (older ones are purged on the way). */
  retained(channel: string): RetainedEvent[] {
    const log = this.logs.get(channel) ?? [];
    const oldest = this.now().getTime() - this.retentionMs;
    const kept = log.filter((e) => e.publishedAt >= oldest);
    if (kept.length !== log.length) this.logs.set(channel, kept);
    return kept;
  }

  /** A stored replay id is valid while the event it names is retained on that channel. */
  isRetained(channel: string, replayId: number): boolean {
    return this.retained(channel).some((e) => e.replayId === replayId);
  }

  after(channel: string, replayId: number): RetainedEvent[] {
    return this.retained(channel).filter((e) => e.replayId > replayId);
  }

  /** Drops everything retained: what a purge after the retention window looks like to a subscriber. */
  purgeAll(): void {
    this.logs.clear();
  }
}
