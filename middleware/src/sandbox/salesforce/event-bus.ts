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

/**
 * When a committed change reaches subscribers. A loaded org delivers change events seconds to minutes after the
 * commit, and "Change events ... of one channel are delivered in order" while separate channels (a CDC channel and a
 * Platform Event channel) carry no order between them (CDC guide, "Change Event Storage and Delivery"; Platform
 * Events guide, "Event Delivery and Ordering"). Zero everywhere is the healthy default: delivered at once.
 */
export interface DeliveryTiming {
  /** Every event waits this long after its publish. */
  delayMs: number;
  /** Plus a random share of this (per event; per-channel order is kept). */
  jitterMs: number;
  /** Extra delay per channel name (e.g. CDC later than the Platform Event channel): cross-channel reordering. */
  channelDelayMs: Record<string, number>;
}

interface Scheduled {
  due: number;
  message: ChannelMessage;
}

export class EventBus {
  private lastReplayId = 0;
  private readonly logs = new Map<string, RetainedEvent[]>();
  private readonly listeners = new Set<BusListener>();
  private timing: DeliveryTiming = { delayMs: 0, jitterMs: 0, channelDelayMs: {} };
  /** Events published but not yet delivered, per channel, in publish order (their due times never decrease). */
  private readonly queues = new Map<string, Scheduled[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  retentionMs: number;

  constructor(
    private readonly now: () => Date,
    retentionMs = defaultRetentionMs,
    private readonly random: () => number = Math.random,
  ) {
    this.retentionMs = retentionMs;
  }

  setDeliveryTiming(timing: Partial<DeliveryTiming>): DeliveryTiming {
    this.timing = { ...this.timing, ...timing };
    return this.timing;
  }

  deliveryTiming(): DeliveryTiming {
    return this.timing;
  }

  /** Events published and not yet delivered (tests wait for zero before calling the system settled). */
  pendingCount(): number {
    let n = 0;
    for (const queue of this.queues.values()) n += queue.length;
    return n;
  }

  /** Stops the delivery timers (the emulator is closing); undelivered events are dropped. */
  stop(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queues.clear();
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

  /**
   * Publishes an event: delivered (retained, then given to listeners) at once, or after the configured delay. A
   * delayed event is not replayable before it is delivered either: to subscribers it has not happened yet.
   */
  publish(message: ChannelMessage): { message: ChannelMessage } {
    const delay = this.timing.delayMs + (this.timing.channelDelayMs[message.channel] ?? 0) + (this.timing.jitterMs > 0 ? Math.floor(this.random() * this.timing.jitterMs) : 0);
    const queue = this.queues.get(message.channel);
    if (delay <= 0 && (queue === undefined || queue.length === 0)) {
      this.deliver(message);
      return { message };
    }
    const last = queue?.at(-1)?.due ?? 0;
    const scheduled = { due: Math.max(Date.now() + delay, last), message };
    if (queue === undefined) this.queues.set(message.channel, [scheduled]);
    else queue.push(scheduled);
    this.arm(message.channel);
    return { message };
  }

  private arm(channel: string): void {
    if (this.timers.has(channel)) return;
    const head = this.queues.get(channel)?.[0];
    if (head === undefined) return;
    const timer = setTimeout(() => {
      this.timers.delete(channel);
      const queue = this.queues.get(channel) ?? [];
      while (queue.length > 0 && queue[0]!.due <= Date.now()) this.deliver(queue.shift()!.message);
      if (queue.length === 0) this.queues.delete(channel);
      else this.arm(channel);
    }, Math.max(0, head.due - Date.now()));
    timer.unref();
    this.timers.set(channel, timer);
  }

  private deliver(message: ChannelMessage): RetainedEvent {
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
