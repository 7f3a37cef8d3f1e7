import { LightningElement, api, wire } from 'lwc';
import { refreshApex } from '@salesforce/apex';
import { ShowToastEvent } from 'lightning/platformShowToastEvent';
import getStatus from '@salesforce/apex/OptOutSyncStatusController.getStatus';
import resync from '@salesforce/apex/OptOutSyncStatusController.resync';

/** The text of an Apex or wire error, for the user. */
function errorText(error) {
    if (error && error.body && error.body.message) {
        return error.body.message;
    }
    return error && error.message ? error.message : 'Unknown error';
}

// How long a Resync stands for the record: the middleware reads the record again within seconds, so another click
// in this time would only spend an event and a Salesforce API call for the same answer.
const RESYNC_COOLDOWN_MS = 60000;
const HIDDEN = 'Hidden';

export default class OptOutSyncStatus extends LightningElement {
    @api recordId;
    status;
    error;
    resyncing = false;
    wiredResult;
    lastSentAt;

    @wire(getStatus, { recordId: '$recordId' })
    wiredStatus(result) {
        this.wiredResult = result;
        if (result.data) {
            this.status = result.data;
            this.error = undefined;
        } else if (result.error) {
            this.status = undefined;
            this.error = errorText(result.error);
        }
    }

    // Field-level security may hide a field from this user: say so rather than show its empty value as a fact.
    isHidden(field) {
        return Boolean(this.status && this.status.hiddenFields && this.status.hiddenFields.includes(field));
    }

    get acStatus() {
        if (this.isHidden('AC_Status__c')) {
            return HIDDEN;
        }
        return this.status && this.status.acStatus ? this.status.acStatus : 'Not synced yet';
    }

    get optOutLabel() {
        if (this.isHidden('optedOut') || (this.status && this.status.optedOut === null)) {
            return HIDDEN;
        }
        return this.status && this.status.optedOut ? 'Opted out' : 'Not opted out';
    }

    get optOutSource() {
        return this.isHidden('Opt_Out_Source__c') ? HIDDEN : this.status && this.status.optOutSource;
    }

    get auditHidden() {
        return Boolean(this.status && this.status.auditVisible === false);
    }

    get auditEntries() {
        return this.status && this.status.recentAudit ? this.status.recentAudit : [];
    }

    get hasAuditEntries() {
        return this.auditEntries.length > 0;
    }

    async handleResync() {
        const since = this.lastSentAt === undefined ? undefined : Date.now() - this.lastSentAt;
        if (since !== undefined && since < RESYNC_COOLDOWN_MS) {
            const seconds = Math.round(since / 1000);
            this.dispatchEvent(
                new ShowToastEvent({
                    title: 'Resync with ActiveCampaign',
                    message: `Already sent ${seconds} seconds ago: the middleware is on it.`,
                    variant: 'info'
                })
            );
            return;
        }
        this.resyncing = true;
        try {
            const message = await resync({ recordId: this.recordId });
            this.lastSentAt = Date.now();
            this.dispatchEvent(new ShowToastEvent({ title: 'Resync with ActiveCampaign', message, variant: 'success' }));
            await refreshApex(this.wiredResult);
        } catch (error) {
            this.dispatchEvent(
                new ShowToastEvent({ title: 'Resync with ActiveCampaign', message: errorText(error), variant: 'error' })
            );
        } finally {
            this.resyncing = false;
        }
    }
}
