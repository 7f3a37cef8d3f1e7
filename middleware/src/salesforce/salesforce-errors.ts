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
