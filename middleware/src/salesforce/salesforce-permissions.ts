// Can the integration user read and write the opt-out field? A field hidden by field-level security is silently
// dropped from change events ("Delivered events contain only the fields that a subscribed user is allowed to view",
// CDC guide) and makes SOQL on it fail with INVALID_FIELD; a field or object without Edit makes every write fail.
// Both look like "nothing happens" from outside, so they are checked up front, from the describe of each object,
// which answers as the asking user sees it.
import type { ObjectDescribeAccess, SalesforceRestClient } from './salesforce-rest';
import { SalesforceApiError } from './salesforce-errors';
import { syncStateFields, syncedObjects } from './package-names';

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
  const described: { object: string; describe: ObjectDescribeAccess }[] = [];
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
    described.push({ object, describe });
    if (!describe.updateable) {
      findings.push({ object, field: null, permission: 'Edit', message: `the integration user lacks Edit on ${object}: opt-outs from ActiveCampaign cannot be written to ${object} records` });
    }
    const field = findField(describe, optOutField);
    if (field === undefined) {
      findings.push({ object, field: optOutField, permission: 'Field-level security: Read', message: `${object}.${optOutField} is hidden from the integration user (or does not exist): change events arrive without it and opt-outs are lost; give it Read and Edit access in field-level security` });
    } else if (!field.updateable) {
      findings.push({ object, field: field.name, permission: 'Field-level security: Edit', message: `${object}.${field.name} is read-only for the integration user: opt-outs from ActiveCampaign cannot be written; give it Edit access in field-level security` });
    }
  }
  // Once the package's fields are visible on Contact, every write to a Contact or Lead carries them (the sync state
  // beside the opt-out): one of them hidden or read-only on either object makes Salesforce refuse the whole write,
  // the opt-out with it.
  const contact = described.find((d) => d.object === 'Contact');
  if (contact !== undefined && findField(contact.describe, syncStateFields.hardBounced) !== undefined) {
    for (const { object, describe } of described) {
      for (const name of writtenSyncStateFields) {
        const field = findField(describe, name);
        if (field === undefined) {
          findings.push({ object, field: name, permission: 'Field-level security: Read', message: `${object}.${name} (a field of the package) is hidden from the integration user: every opt-out written to ${object} carries it and is refused; give it Read and Edit access (the package's permission set)` });
        } else if (!field.updateable) {
          findings.push({ object, field: field.name, permission: 'Field-level security: Edit', message: `${object}.${field.name} (a field of the package) is read-only for the integration user: every opt-out written to ${object} carries it and is refused; give it Edit access (the package's permission set)` });
        }
      }
    }
  }
  return findings;
}

/** The package's fields the product writes beside the opt-out (sync/salesforce-write-plan.ts). */
const writtenSyncStateFields = [syncStateFields.hardBounced, syncStateFields.acStatus, syncStateFields.optOutSource, syncStateFields.lastSyncedAt];

function findField(describe: ObjectDescribeAccess, name: string): ObjectDescribeAccess['fields'][number] | undefined {
  return describe.fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
}

/** One line for a terminal, a readiness answer or the status page. */
export function describePermissionFindings(findings: readonly PermissionFinding[]): string {
  return findings.map((f) => `${f.field === null ? f.object : `${f.object}.${f.field}`} lacks ${f.permission}: ${f.message}`).join('; ');
}

export interface PermissionWatchOptions {
  rest: Pick<SalesforceRestClient, 'describeAccess'>;
  optOutField: () => string;
  logger: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** How often the describes are read again: an admin may change a profile at any time (default 5 minutes). */
  everyMs?: number;
}

/**
 * The permission check kept up to date for /readyz and the status page: two describes every few minutes, never per
 * request (a readiness probe every few seconds would otherwise spend the org's daily API allocation on it).
 * The last known findings stay in force while a check cannot be made (network, expired session): a permission
 * problem does not vanish because the org is unreachable.
 */
export class SalesforcePermissionWatch {
  private found: PermissionFinding[] | null = null;
  private lastReported = '';
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly options: PermissionWatchOptions) {}

  /** What the integration user lacks (empty: nothing); null until a check could be made. */
  findings(): PermissionFinding[] | null {
    return this.found;
  }

  /** One sentence per finding, for the reasons of a degraded instance. */
  reasons(): string[] {
    return (this.found ?? []).map((f) => `Salesforce permission missing: ${describePermissionFindings([f])}`);
  }

  /** Checks now (one at a time); never throws. */
  check(): Promise<void> {
    this.running ??= this.checkOnce().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.check(), this.options.everyMs ?? 5 * 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async checkOnce(): Promise<void> {
    const { logger } = this.options;
    try {
      this.found = await salesforcePermissionFindings(this.options.rest, this.options.optOutField());
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'salesforce permissions could not be checked; the last findings stay in force');
      return;
    }
    // Logged when the findings change, not at every check: the status page and /readyz carry the lasting state.
    const described = describePermissionFindings(this.found);
    if (described === this.lastReported) return;
    this.lastReported = described;
    if (this.found.length > 0) logger.error({ findings: this.found }, `salesforce permissions missing: ${described}`);
    else logger.info({}, 'salesforce permissions: the integration user can read and edit the opt-out field');
  }
}
