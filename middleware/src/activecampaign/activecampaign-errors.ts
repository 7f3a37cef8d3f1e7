// Typed failures of ActiveCampaign calls. Callers (queue workers, the poller) decide what to do by class:
// retry later (rate limited, server error, timeout, network), or dead-letter (client error, bad shape).
// Messages carry the HTTP method and the path WITHOUT its query string: queries hold e-mail addresses and the
// webhook URL (which embeds our shared secret), and no message ever includes the Api-Token header.

/** Base class: every error this module throws is an AcError. */
export class AcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export type AcRateLimitScope = 'account' | 'bulk-import';

/**
 * AC throttled us. `account`: the 5 requests/s account budget (HTTP 429 with Retry-After in seconds, or 503,
 * which older field reports saw instead: research/activecampaign-api.md §1). `bulk-import`: the import
 * endpoint's own 100 multi-contact imports a minute, answered as 400 "Rate limit exceeded." (§4).
 */
export class AcRateLimitedError extends AcError {
  constructor(
    readonly retryAfterMs: number,
    readonly status: number,
    readonly scope: AcRateLimitScope,
    where: string,
  ) {
    super(`ActiveCampaign throttled ${where} (HTTP ${status}, ${scope}); retry after ${retryAfterMs} ms`);
  }
}

/** HTTP 5xx other than the 503 throttling answer. Retryable. */
export class AcServerError extends AcError {
  constructor(
    readonly status: number,
    where: string,
  ) {
    super(`ActiveCampaign answered HTTP ${status} to ${where}`);
  }
}

/** No complete answer within the client's timeout. Retryable: every write this product sends is idempotent. */
export class AcTimeoutError extends AcError {
  constructor(
    readonly timeoutMs: number,
    where: string,
  ) {
    super(`ActiveCampaign did not answer ${where} within ${timeoutMs} ms`);
  }
}

/** Connection refused/reset, DNS failure: the request may or may not have reached AC. Retryable. */
export class AcNetworkError extends AcError {
  constructor(where: string, cause: string) {
    super(`could not reach ActiveCampaign for ${where}: ${cause}`);
  }
}

/** HTTP 4xx (except throttling): the request itself is wrong; sending it again gives the same answer. */
export class AcClientError extends AcError {
  constructor(
    readonly status: number,
    where: string,
    readonly detail: string,
  ) {
    super(`ActiveCampaign rejected ${where} with HTTP ${status}${detail ? `: ${detail}` : ''}`);
  }
}

/** HTTP 404: the contact (or other resource) no longer exists, e.g. deleted in AC between two calls. */
export class AcNotFoundError extends AcClientError {}

/** The answer did not have the documented shape (zod failure). `issues` name the field paths. */
export class AcResponseShapeError extends AcError {
  constructor(
    where: string,
    readonly issues: string[],
  ) {
    super(`ActiveCampaign answered ${where} with an unexpected shape: ${issues.join('; ')}`);
  }
}

/** A request this client refuses to send, e.g. a bulk import with an invalid email (AC would reject it all). */
export class AcInvalidRequestError extends AcError {}

/**
 * The same request will get the same answer however often it is sent: AC refused it (4xx other than 429), or this
 * client refused to send it. Anything else, including errors that are not AC's at all (a database connection lost
 * mid-job), may succeed on a later attempt.
 */
export function isPermanent(error: unknown): boolean {
  return error instanceof AcClientError || error instanceof AcInvalidRequestError;
}

export function isRetryable(error: unknown): boolean {
  return (
    error instanceof AcRateLimitedError ||
    error instanceof AcServerError ||
    error instanceof AcTimeoutError ||
    error instanceof AcNetworkError
  );
}

export interface RetryDelayOptions {
  /** First backoff ceiling; doubles every attempt. */
  baseMs?: number;
  /** Largest backoff ceiling. */
  maxMs?: number;
}

/**
 * Delay before retry number `attempt` (0 = first retry): exponential backoff with full jitter
 * (a uniformly random delay in [0, min(max, base * 2^attempt)]), so that workers that failed together do not
 * retry together. A throttling answer's Retry-After is a floor: AC asked us to stay away that long, and the
 * jitter on top spreads the callers out after it.
 */
export function retryDelayMs(
  error: unknown,
  attempt: number,
  random: () => number = Math.random,
  { baseMs = 500, maxMs = 60_000 }: RetryDelayOptions = {},
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  const jitter = Math.floor(random() * ceiling);
  if (error instanceof AcRateLimitedError) return error.retryAfterMs + jitter;
  return jitter;
}

/**
 * Parses a Retry-After header: delay-seconds (what AC documents: "Retry-After: 30") or an HTTP-date (RFC 9110
 * §10.2.3). Returns undefined when absent or unparseable.
 */
export function parseRetryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
