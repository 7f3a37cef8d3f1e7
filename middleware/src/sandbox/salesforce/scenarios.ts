// Misconfigured or busy orgs a newcomer can start the sandbox with, to see how the product reports each: the
// problems real orgs have that a fresh developer org does not. Each is a few control calls on the emulator.
import type { SalesforceEmulator } from './index';
import { SalesforceApiError } from './salesforce-errors';

export const orgScenarios = {
  'hidden-field': 'field-level security hides Contact.HasOptedOutOfEmail from the integration user',
  'validation-rule': "a validation rule refuses changes to the Lead of the scenario's email",
  'converted-lead': "the Lead of the scenario's email was converted (Salesforce refuses updates to it)",
} as const;

export type OrgScenario = keyof typeof orgScenarios;

export function isOrgScenario(name: string): name is OrgScenario {
  return Object.hasOwn(orgScenarios, name);
}

/** Applies a scenario to the org; `email` picks the Lead the record-level scenarios act on. */
export function applyOrgScenario(sf: SalesforceEmulator, scenario: OrgScenario, { email }: { email?: string } = {}): { recordId: string | null; description: string } {
  const description = orgScenarios[scenario];
  if (scenario === 'hidden-field') {
    sf.setFieldAccess('Contact', 'HasOptedOutOfEmail', 'hidden');
    return { recordId: null, description };
  }
  const lead = email === undefined ? undefined : sf.findByEmail(email).find((r) => r.type === 'Lead');
  if (lead === undefined) throw new SalesforceApiError(400, 'INVALID_SCENARIO', `scenario ${scenario} needs the email of a Lead`);
  const id = String(lead.fields.Id);
  if (scenario === 'validation-rule') {
    sf.setRecordFault(id, { kind: 'validation-rule', message: 'Opt-out changes on Leads need a reason (Opt_Out_Reason__c)', field: 'HasOptedOutOfEmail' });
  } else {
    sf.convertLead(id);
  }
  return { recordId: id, description };
}
