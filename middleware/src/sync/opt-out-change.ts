// The one normalised shape every Salesforce event source becomes (CDC, the relay Platform Event, GAP re-queries,
// reconcile). Defined in the domain so that the rules do not depend on how a change arrived.
export type ChangeSource = 'CDC' | 'CDC_RELAY' | 'FLOW' | 'RESYNC' | 'GAP' | 'RECONCILE';

export interface SalesforceOptOutChange {
  recordId: string;
  objectName: 'Contact' | 'Lead';
  email: string;
  optedOut: boolean;
  changedAt: Date;
  source: ChangeSource;
}

/** Salesforce matches email case-insensitively (DESIGN R3); so do we, everywhere an email is a key. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}
