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

export default class OptOutSyncStatus extends LightningElement {
    @api recordId;
    status;
    error;
    resyncing = false;
    wiredResult;

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

    get acStatus() {
        return this.status && this.status.acStatus ? this.status.acStatus : 'Not synced yet';
    }

    get optOutLabel() {
        return this.status && this.status.optedOut ? 'Opted out' : 'Not opted out';
    }

    get auditEntries() {
        return this.status && this.status.recentAudit ? this.status.recentAudit : [];
    }

    get hasAuditEntries() {
        return this.auditEntries.length > 0;
    }

    async handleResync() {
        this.resyncing = true;
        try {
            const message = await resync({ recordId: this.recordId });
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
