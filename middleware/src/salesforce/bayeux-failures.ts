// Classifies an unsuccessful Bayeux reply by what the client must do, following Salesforce's "Handling Streaming
// API Errors" and "Streaming API Error Codes" (examples: fixtures/salesforce/bayeux/err-*.json). The documented 503
// example carries error "401::Authentication invalid" with the real cause in ext.sfdc.failureReason, so the
// failure reason is read first.
import type { BayeuxMessage } from './faye-client';

export type BayeuxFailure =
  /** Token revoked / session ended: re-authenticate and build a new client. */
  | { kind: 'auth'; detail: string }
  /** The server dropped the CometD session: re-handshake and resubscribe (faye re-handshakes by itself). */
  | { kind: 'unknown-client'; detail: string }
  /** 503 Server is too busy / simultaneous-connection limit: retry later. */
  | { kind: 'busy'; detail: string }
  /** Daily event delivery allocation used up: stay away, resume by replay id later (events are kept 72 h). */
  | { kind: 'daily-limit'; detail: string }
  /** `400::The replayId {id} you provided was invalid...`: the id is outside the retention window. */
  | { kind: 'replay-invalid'; detail: string; replayId: string | null }
  | { kind: 'other'; detail: string; fatal: boolean };

function failureReason(message: BayeuxMessage): string {
  const sfdc = message.ext?.sfdc;
  if (typeof sfdc === 'object' && sfdc !== null && 'failureReason' in sfdc) {
    const reason = (sfdc as { failureReason?: unknown }).failureReason;
    if (typeof reason === 'string') return reason;
  }
  return '';
}

export function classifyBayeuxFailure(message: BayeuxMessage): BayeuxFailure {
  const error = typeof message.error === 'string' ? message.error : '';
  const reason = failureReason(message);
  const detail = [error, reason].filter((part) => part.length > 0).join(' / ') || 'unsuccessful reply';
  const both = `${reason} ${error}`;
  if (/(^|\s)503::/.test(both)) return { kind: 'busy', detail };
  if (/total events daily limit exceeded/i.test(both)) return { kind: 'daily-limit', detail };
  const replay = /replayId\s*\{?([^}\s]*)\}?\s*you provided was invalid/i.exec(both);
  if (replay) return { kind: 'replay-invalid', detail, replayId: replay[1] ? replay[1] : null };
  if (/simultaneous connections|concurrent user limit/i.test(both)) return { kind: 'busy', detail };
  if (/(^|\s)401::/.test(both)) return { kind: 'auth', detail };
  if (/403::Unknown client/i.test(both) || message.advice?.reconnect === 'handshake') {
    return { kind: 'unknown-client', detail };
  }
  return { kind: 'other', detail, fatal: message.advice?.reconnect === 'none' };
}
