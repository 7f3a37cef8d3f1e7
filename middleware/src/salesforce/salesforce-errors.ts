// Typed errors for the cases callers handle. Messages never carry tokens, client secrets or JWT assertions:
// they are built from Salesforce's error codes and descriptions only.

/** The token endpoint refused the grant (e.g. `invalid_grant`, `invalid_client`) or answered something unreadable. */
export class SalesforceAuthError extends Error {
  override readonly name = 'SalesforceAuthError';
  constructor(
    readonly errorCode: string,
    readonly description: string,
    readonly httpStatus: number,
  ) {
    super(`Salesforce token request failed (${httpStatus}): ${errorCode}${description ? `: ${description}` : ''}`);
  }
}

/** The access token was rejected (`INVALID_SESSION_ID`) even after one re-authentication. */
export class SalesforceSessionExpiredError extends Error {
  override readonly name = 'SalesforceSessionExpiredError';
  constructor(readonly detail: string) {
    super(`Salesforce session expired or invalid: ${detail}`);
  }
}

/** A REST call answered an error body `[{message, errorCode, fields?}]` (REST API "Status Codes and Error Responses"). */
export class SalesforceApiError extends Error {
  override readonly name = 'SalesforceApiError';
  constructor(
    readonly httpStatus: number,
    readonly errorCode: string,
    readonly apiMessage: string,
    readonly fields: readonly string[] = [],
  ) {
    super(
      `Salesforce API error ${httpStatus} ${errorCode}: ${apiMessage}${fields.length ? ` (fields: ${fields.join(', ')})` : ''}`,
    );
  }
}

/** A streaming message did not have the shape the vendor documents; `path` names the offending field. */
export class MessageRejectedError extends Error {
  override readonly name = 'MessageRejectedError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`message rejected at ${path || '<root>'}: ${reason}`);
  }
}

/** Salesforce answered with a body we cannot read; `field` names where it differs from the documented shape. */
export class SalesforceResponseShapeError extends Error {
  override readonly name = 'SalesforceResponseShapeError';
  constructor(
    readonly what: string,
    readonly field: string,
  ) {
    super(`unexpected Salesforce answer (${what}) at ${field || '<root>'}`);
  }
}

/** A Salesforce call took longer than the client's timeout (the org, the network or a proxy hung). */
export class SalesforceTimeoutError extends Error {
  override readonly name = 'SalesforceTimeoutError';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`Salesforce ${what} timed out after ${timeoutMs} ms`);
  }
}

/** A Salesforce call never got an answer: connection refused or reset, DNS, TLS. */
export class SalesforceNetworkError extends Error {
  override readonly name = 'SalesforceNetworkError';
  constructor(
    readonly what: string,
    readonly detail: string,
  ) {
    super(`Salesforce ${what} failed before an answer: ${detail}`);
  }
}

export type SalesforceFailureClass = 'transient' | 'credentials' | 'permanent';

/**
 * Status codes that succeed when tried again later (REST API "Status Codes and Error Responses"; Object Reference
 * StatusCode): a row lock held by another transaction, the org's rolling 24-hour API request limit, an instance
 * briefly unavailable, an internal error.
 */
const transientCodes = new Set(['UNABLE_TO_LOCK_ROW', 'REQUEST_LIMIT_EXCEEDED', 'SERVER_UNAVAILABLE', 'UNKNOWN_EXCEPTION', 'QUERY_TIMEOUT']);

const orgWideRecordCodes = new Set(['INSUFFICIENT_ACCESS_OR_READONLY', 'INVALID_FIELD_FOR_INSERT_UPDATE', 'INVALID_FIELD', 'CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY', 'ENTITY_IS_LOCKED', 'INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY']);

/** The class of one record's save error inside sObject Collections (a `statusCode` of its SaveResult). */
export function saveErrorClass(statusCode: string): SalesforceFailureClass {
  if (transientCodes.has(statusCode)) return 'transient';
  if (statusCode === 'INVALID_SESSION_ID') return 'credentials';
  // The org's configuration or state, not the record's: the integration user's access, field-level security, a
  // failing trigger, an approval lock. Every record of the kind fails alike until an admin acts; the work waits.
  if (orgWideRecordCodes.has(statusCode)) return 'credentials';
  // FIELD_CUSTOM_VALIDATION_EXCEPTION, REQUIRED_FIELD_MISSING, ENTITY_IS_DELETED, CANNOT_UPDATE_CONVERTED_LEAD and
  // the rest: this record fails the same way until someone changes it.
  return 'permanent';
}

/**
 * What a caller should do about a Salesforce failure: try again later ('transient': network, timeout, 5xx, row
 * lock, daily API limit), fix the connection's credentials or permissions ('credentials': a token refused after
 * the one re-authentication, a grant refused, 403), or give up on that record ('permanent'). undefined when the
 * error is not a Salesforce one.
 */
export function salesforceFailureClass(error: unknown): SalesforceFailureClass | undefined {
  if (error instanceof SalesforceTimeoutError || error instanceof SalesforceNetworkError) return 'transient';
  if (error instanceof SalesforceSessionExpiredError) return 'credentials';
  if (error instanceof SalesforceAuthError) {
    if (error.httpStatus === 0 || error.httpStatus >= 500 || error.errorCode === 'unreadable_response') return 'transient';
    return 'credentials';
  }
  if (error instanceof SalesforceApiError) {
    if (transientCodes.has(error.errorCode) || error.httpStatus >= 500 || error.httpStatus === 429) return 'transient';
    if (error.httpStatus === 401 || error.httpStatus === 403) return 'credentials';
    if (error.errorCode === 'UNREADABLE_RESPONSE') return 'transient';
    return 'permanent';
  }
  if (error instanceof SalesforceResponseShapeError || error instanceof MessageRejectedError) return 'permanent';
  return undefined;
}

/**
 * A Salesforce error message fit for audits and dead letters: validation rules, Flows and triggers carry messages
 * the org's people wrote, which may name the record (an email, a phone number, a name with or without quotes).
 * `personal` lists what is known of the person (the record's names, the parts of its email address): each is
 * replaced wherever it stands as a word, whatever its case.
 */
export function redactSalesforceMessage(message: string, maxLength = 300, personal: readonly string[] = []): string {
  let redacted = message.replace(/[^\s@"'<>()[\],;:]+@[^\s@"'<>()[\],;:]+/g, '[email]');
  // Longest first, so that "Hedwig Kiesler" goes as one before "Kiesler" alone.
  const words = [...new Set(personal.map((p) => p.trim()).filter((p) => p.length >= 2))].sort((a, b) => b.length - a.length);
  for (const word of words) {
    const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    redacted = redacted.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, 'giu'), '[name]');
  }
  redacted = redacted.replace(/\+?\d[\d\s().-]{5,}\d/g, '[number]').replace(/"[^"]*"|'[^']*'|“[^”]*”/g, '[quoted]');
  return redacted.length > maxLength ? `${redacted.slice(0, maxLength - 1)}…` : redacted;
}

/**
 * What an email address says of its owner, for redactSalesforceMessage: the local part and its pieces
 * ("hedy.lamarr" gives "hedy.lamarr", "hedy" and "lamarr"); pieces under 3 characters are too common to strip.
 */
export function emailParts(email: string): string[] {
  const local = email.split('@')[0] ?? '';
  return [local, ...local.split(/[._+-]+/).filter((piece) => piece.length >= 3)].filter((part) => part.length >= 2);
}
