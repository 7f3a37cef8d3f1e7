// "Connected since" for the status page. The subscriber's lastConnectAt moves with every successful /meta/connect
// (each long poll), so it says "still connected", not "since when". This remembers the first connect seen for the
// current CometD client (a restart builds a new client, counted by clientsCreated) until the stream drops. It is
// observed on every leadership tick (5 s) as well as on each status read, so it is at most one tick late.
export interface ObservedStream {
  connected: boolean;
  lastConnectAt: number | null;
  clientsCreated: number;
}

export class ConnectedSince {
  private client: number | null = null;
  private since: number | null = null;

  observe(state: ObservedStream | null): number | null {
    if (state === null || !state.connected) {
      this.client = null;
      this.since = null;
      return null;
    }
    if (this.client !== state.clientsCreated || this.since === null) {
      this.client = state.clientsCreated;
      this.since = state.lastConnectAt;
    }
    return this.since;
  }
}
