// R7: by default every record whose email matches is in scope. Optionally only ActiveCampaign contacts carrying
// a tag (Scope_AC_Tag__c), or only Salesforce records that are members of given Campaigns (Scope_Campaign_Ids__c).
import { z } from 'zod';
import type { SalesforceRestClient } from '../salesforce/salesforce-rest';
import { soqlString } from '../salesforce/salesforce-rest';
import type { ActiveCampaignClient } from '../activecampaign/activecampaign-client';
import type { Settings } from '../sync/settings';

const memberRow = z.object({ ContactId: z.string().nullable(), LeadId: z.string().nullable() });

export interface SyncScope {
  /** The subset of record ids that are members of the scoped Campaigns (all ids when no Campaign scope is set). */
  salesforceRecordsInScope(recordIds: string[]): Promise<Set<string>>;
  /** Whether the AC contact carries the scope tag (always true when no tag scope is set). */
  acContactInScope(acContactId: string): Promise<boolean>;
}

export function createSyncScope(deps: { rest: Pick<SalesforceRestClient, 'query'>; ac: Pick<ActiveCampaignClient, 'contactHasTag'>; settings: () => Settings }): SyncScope {
  return {
    async salesforceRecordsInScope(recordIds) {
      const campaigns = deps.settings().scopeCampaignIds;
      if (campaigns.length === 0 || recordIds.length === 0) return new Set(recordIds);
      const inScope = new Set<string>();
      const campaignList = campaigns.map(soqlString).join(',');
      for (let i = 0; i < recordIds.length; i += 200) {
        const ids = recordIds.slice(i, i + 200).map(soqlString).join(',');
        const rows = await deps.rest.query(
          `SELECT ContactId, LeadId FROM CampaignMember WHERE CampaignId IN (${campaignList}) AND (ContactId IN (${ids}) OR LeadId IN (${ids}))`,
          memberRow,
        );
        for (const row of rows) {
          if (row.ContactId !== null) inScope.add(row.ContactId);
          if (row.LeadId !== null) inScope.add(row.LeadId);
        }
      }
      // CampaignMember answers 18-character ids; the records we hold may carry the same ids.
      return new Set(recordIds.filter((id) => inScope.has(id)));
    },
    async acContactInScope(acContactId) {
      const tag = deps.settings().scopeAcTag;
      if (tag === null) return true;
      return deps.ac.contactHasTag(acContactId, tag);
    },
  };
}
