import { LightningElement } from 'lwc';
import getOverview from '@salesforce/apex/OptOutSyncAdminController.getOverview';

/** The text of an Apex error, for the admin. */
function errorText(error) {
    if (error && error.body && error.body.message) {
        return error.body.message;
    }
    return error && error.message ? error.message : 'Unknown error';
}

// The labels of Audit_Level__c's values (OptOutSync_Settings__mdt).
const AUDIT_LEVEL_LABELS = {
    FAILURES: 'Failures only',
    SALESFORCE_CHANGES: 'Salesforce changes',
    ALL: 'All decisions'
};

export default class OptOutSyncAdmin extends LightningElement {
    overview;
    error;
    loading = false;

    connectedCallback() {
        this.load();
    }

    async load() {
        this.loading = true;
        try {
            this.overview = await getOverview();
            this.error = undefined;
        } catch (error) {
            this.overview = undefined;
            this.error = errorText(error);
        } finally {
            this.loading = false;
        }
    }

    handleRefresh() {
        this.load();
    }

    get settingsSource() {
        return this.overview && this.overview.settingsRecordExists
            ? 'Your settings record (Default)'
            : 'Package defaults (no settings record)';
    }

    get auditLevelLabel() {
        const level = this.overview ? this.overview.auditLevel : undefined;
        return AUDIT_LEVEL_LABELS[level] || level;
    }

    get pushLabel() {
        return this.overview && this.overview.pushEnabled ? 'On' : 'Off';
    }

    get checks() {
        return (this.overview ? this.overview.checks : []).map((check, index) => ({
            key: String(index),
            label: check.label,
            result: check.ok ? 'OK' : 'Missing',
            className: check.ok ? 'slds-text-color_success' : 'slds-text-color_error'
        }));
    }

    get allChecksPass() {
        return this.checks.length > 0 && this.checks.every((check) => check.result === 'OK');
    }

    get failures() {
        return this.overview ? this.overview.recentFailures : [];
    }

    get hasFailures() {
        return this.failures.length > 0;
    }

    get events() {
        return this.overview ? this.overview.recentEvents : [];
    }
}
