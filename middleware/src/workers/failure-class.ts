// Every failure of a job is one of three kinds, and only one of them may end a job:
// - transient: the same call may succeed later (network, timeouts, 5xx, 429, a limit, our own database);
// - credentials: the vendor refused who we are (a rotated AC token, a revoked Salesforce session, a permission the
//   integration user lost) - an operator must act, and the work must wait for it, visibly, rather than die;
// - permanent: this one record or request will get the same answer however often it is sent (an AC 422 for an
//   invalid email, a deleted record) - the only class that goes to the dead letters.
// A failure we cannot classify is transient: an opt-out that waits costs a delay, one dead-lettered costs consent.
import {
  AcClientError,
  AcInvalidRequestError,
  AcNetworkError,
  AcRateLimitedError,
  AcResponseShapeError,
  AcServerError,
  AcTimeoutError,
} from '../activecampaign/activecampaign-errors';
import { SalesforceApiError, SalesforceAuthError, SalesforceResponseShapeError, SalesforceSessionExpiredError, salesforceFailureClass } from '../salesforce/salesforce-errors';

export type FailureClass = 'transient' | 'credentials' | 'permanent';
export type FailingVendor = 'activecampaign' | 'salesforce' | 'internal';

export interface ClassifiedFailure {
  failureClass: FailureClass;
  vendor: FailingVendor;
  /** The vendor asked us to stay away this long (Retry-After); 0 when it did not say. */
  retryAfterMs: number;
  message: string;
}

/** Salesforce error codes of a whole call that clear by themselves (REST API "Status Codes and Error Responses"). */
const SALESFORCE_TRANSIENT_CODES = new Set(['REQUEST_LIMIT_EXCEEDED', 'UNABLE_TO_LOCK_ROW', 'SERVER_UNAVAILABLE', 'QUERY_TIMEOUT', 'API_CURRENTLY_DISABLED']);

export function classifyFailure(error: unknown): ClassifiedFailure {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const of = (failureClass: FailureClass, vendor: FailingVendor, retryAfterMs = 0): ClassifiedFailure => ({ failureClass, vendor, retryAfterMs, message });
  if (error instanceof AcRateLimitedError) return of('transient', 'activecampaign', error.retryAfterMs);
  if (error instanceof AcServerError || error instanceof AcTimeoutError || error instanceof AcNetworkError) return of('transient', 'activecampaign');
  // A body that is not AC's documented shape is, in practice, a proxy's or a maintenance page's: it passes.
  if (error instanceof AcResponseShapeError) return of('transient', 'activecampaign');
  if (error instanceof AcClientError) {
    if (error.status === 401 || error.status === 403) return of('credentials', 'activecampaign');
    // 408 and 409 are the request's timing, not its content.
    if (error.status === 408 || error.status === 409) return of('transient', 'activecampaign');
    return of('permanent', 'activecampaign');
  }
  if (error instanceof AcInvalidRequestError) return of('permanent', 'activecampaign');
  // A token endpoint that timed out or answered 5xx is an outage; a refused grant or session is our credentials.
  if (error instanceof SalesforceAuthError || error instanceof SalesforceSessionExpiredError) return of(salesforceFailureClass(error) === 'transient' ? 'transient' : 'credentials', 'salesforce');
  if (error instanceof SalesforceApiError) {
    if (error.httpStatus >= 500 || SALESFORCE_TRANSIENT_CODES.has(error.errorCode)) return of('transient', 'salesforce');
    // A whole call refused (401, 403, an INVALID_FIELD because field-level security hides the opt-out field):
    // the org's configuration, never one record's fault. The work waits for an admin instead of dying.
    return of('credentials', 'salesforce');
  }
  if (error instanceof SalesforceResponseShapeError) return of('transient', 'salesforce');
  // The Salesforce edge's own timeouts and network failures.
  if (salesforceFailureClass(error) === 'transient') return of('transient', 'salesforce');
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return of('transient', 'internal');
  return of('transient', 'internal');
}
