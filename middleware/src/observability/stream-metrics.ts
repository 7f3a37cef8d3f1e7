// Gauges read at scrape time from the instance's own state: whether it leads (holds the stream-and-poll lease) and,
// on the leader only, whether the Salesforce stream is connected. A standby exports no stream series, so that
// `max(optout_stream_connected)` across instances is the leader's answer and its absence means nobody streams.
import { Gauge, type Registry } from 'prom-client';

export interface StreamStateSource {
  leader: boolean;
  connected: boolean;
}

export function registerStreamGauges(registry: Registry, read: () => StreamStateSource): void {
  new Gauge({
    name: 'optout_leader',
    help: '1 when this instance holds the stream-and-poll lease, else 0',
    registers: [registry],
    collect() {
      this.set(read().leader ? 1 : 0);
    },
  });
  new Gauge({
    name: 'optout_stream_connected',
    help: '1 when the Salesforce stream is connected (exported by the leader only), else 0',
    registers: [registry],
    collect() {
      const state = read();
      this.reset();
      if (state.leader) this.set(state.connected ? 1 : 0);
    },
  });
}
