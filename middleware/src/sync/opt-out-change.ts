// What the push rules need to know of a Salesforce opt-out change, whatever source it came from (CDC, the relay
// Platform Event, a GAP re-read, a reconcile). The Salesforce edge's normaliser produces a superset of this.
export interface OptOutChangeInput {
  recordId: string;
  email: string;
  optedOut: boolean;
  changedAt: Date;
  source: string;
}

/** Salesforce matches email case-insensitively (DESIGN R3); so do we, everywhere an email is a key. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}
