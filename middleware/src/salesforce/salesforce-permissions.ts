// Can the integration user read and write the opt-out field? A field hidden by field-level security is silently
// dropped from change events ("Delivered events contain only the fields that a subscribed user is allowed to view",
// CDC guide) and makes SOQL on it fail with INVALID_FIELD; a field or object without Edit makes every write fail.
// Both look like "nothing happens" from outside, so they are checked up front, from the describe of each object,
// which answers as the asking user sees it.
import type { SalesforceRestClient } from './salesforce-rest';
import { SalesforceApiError } from './salesforce-errors';
import { syncedObjects } from './package-names';

export interface PermissionFinding {
  object: string;
  /** null when the object itself is the problem. */
  field: string | null;
  /** The permission the integration user lacks, as Setup names it. */
  permission: 'Read' | 'Edit' | 'Field-level security: Read' | 'Field-level security: Edit';
  message: string;
}

/**
 * What the integration user lacks to sync `optOutField` on Contact and Lead; empty when nothing. Errors other than
 * an object the user cannot see (a network failure, an expired token) are thrown: they say nothing of permissions.
 */
export async function salesforcePermissionFindings(
  rest: Pick<SalesforceRestClient, 'describeAccess'>,
  optOutField: string,
  objects: readonly string[] = syncedObjects,
): Promise<PermissionFinding[]> {
  const findings: PermissionFinding[] = [];
  for (const object of objects) {
    let describe;
    try {
      describe = await rest.describeAccess(object);
    } catch (error) {
      if (error instanceof SalesforceApiError && (error.httpStatus === 404 || error.errorCode === 'NOT_FOUND' || error.errorCode === 'INVALID_TYPE')) {
        findings.push({ object, field: null, permission: 'Read', message: `the integration user cannot see ${object}: give it Read and Edit on ${object} (object permissions, e.g. the package's permission set)` });
        continue;
      }
      throw error;
    }
    if (!describe.updateable) {
      findings.push({ object, field: null, permission: 'Edit', message: `the integration user lacks Edit on ${object}: opt-outs from ActiveCampaign cannot be written to ${object} records` });
    }
    const field = describe.fields.find((f) => f.name.toLowerCase() === optOutField.toLowerCase());
    if (field === undefined) {
      findings.push({ object, field: optOutField, permission: 'Field-level security: Read', message: `${object}.${optOutField} is hidden from the integration user (or does not exist): change events arrive without it and opt-outs are lost; give it Read and Edit access in field-level security` });
    } else if (!field.updateable) {
      findings.push({ object, field: field.name, permission: 'Field-level security: Edit', message: `${object}.${field.name} is read-only for the integration user: opt-outs from ActiveCampaign cannot be written; give it Edit access in field-level security` });
    }
  }
  return findings;
}

/** One line for a terminal, a readiness answer or the status page. */
export function describePermissionFindings(findings: readonly PermissionFinding[]): string {
  return findings.map((f) => `${f.field === null ? f.object : `${f.object}.${f.field}`} lacks ${f.permission}: ${f.message}`).join('; ');
}
