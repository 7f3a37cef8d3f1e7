// The subsystems call on each other (a queued job wakes its worker, the poller defers to the push backlog, the
// pull worker's pause degrades readiness) but are wired one after another: each registers here what the others
// may call before it exists. Until then a call does nothing, as a wake-up before the loops start did before.
export class AppLinks {
  pokePush: () => void = () => undefined;
  pokePull: () => void = () => undefined;
  pokeWebhooks: () => void = () => undefined;
  /** The stream-gap loop: a gap was recorded. */
  pokeGaps: () => void = () => undefined;
  /** The push worker is working off a bulk import (the poller defers to it). */
  pushInBulkBacklog: () => boolean = () => false;
  /** Reasons to report degraded that the pull path knows (Salesforce writes paused at the daily API limit). */
  writesPaused: () => string[] = () => [];
}
