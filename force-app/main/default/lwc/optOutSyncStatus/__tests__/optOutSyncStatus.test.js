import { createElement } from 'lwc';
import OptOutSyncStatus from 'c/optOutSyncStatus';
import getStatus from '@salesforce/apex/OptOutSyncStatusController.getStatus';
import resync from '@salesforce/apex/OptOutSyncStatusController.resync';
// The name ShowToastEvent dispatches (lightning/platformShowToastEvent).
const ShowToastEventName = 'lightning__showtoast';

jest.mock(
    '@salesforce/apex/OptOutSyncStatusController.getStatus',
    () => {
        const { createApexTestWireAdapter } = require('@salesforce/sfdx-lwc-jest');
        return { default: createApexTestWireAdapter(jest.fn()) };
    },
    { virtual: true }
);
jest.mock('@salesforce/apex/OptOutSyncStatusController.resync', () => ({ default: jest.fn() }), { virtual: true });

const STATUS = {
    optedOut: true,
    acStatus: 'Unsubscribed',
    acContactId: '42',
    lastSynced: '2026-01-01T00:00:00.000Z',
    optOutSource: 'ActiveCampaign Unsubscribe',
    hardBounced: false,
    recentAudit: [{ Id: 'a00000000000001AAA', Result__c: 'applied', Reason__c: 'R3: unsubscribed from all lists' }]
};

function mount() {
    const element = createElement('c-opt-out-sync-status', { is: OptOutSyncStatus });
    element.recordId = '003000000000001AAA';
    document.body.appendChild(element);
    return element;
}

const text = (element, id) => element.shadowRoot.querySelector(`[data-id="${id}"]`)?.textContent;
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('c-opt-out-sync-status', () => {
    afterEach(() => {
        while (document.body.firstChild) {
            document.body.removeChild(document.body.firstChild);
        }
        jest.clearAllMocks();
    });

    it('shows the ActiveCampaign status, the opt-out and its source, and the recent decisions', async () => {
        const element = mount();
        getStatus.emit(STATUS);
        await settle();

        expect(text(element, 'ac-status')).toBe('Unsubscribed');
        expect(text(element, 'opt-out')).toBe('Opted out');
        expect(text(element, 'source')).toBe('ActiveCampaign Unsubscribe');
        expect(text(element, 'audit')).toContain('applied: R3: unsubscribed from all lists');
    });

    it('says the record is not synced yet when ActiveCampaign status is empty', async () => {
        const element = mount();
        getStatus.emit({ ...STATUS, acStatus: null, optedOut: false, recentAudit: [] });
        await settle();

        expect(text(element, 'ac-status')).toBe('Not synced yet');
        expect(text(element, 'opt-out')).toBe('Not opted out');
        expect(element.shadowRoot.querySelector('[data-id="audit"]')).toBeNull();
    });

    it('shows the error the server gave instead of a status', async () => {
        const element = mount();
        getStatus.error({ message: 'Record not found or not visible to you.' });
        await settle();

        expect(text(element, 'error')).toBe('Record not found or not visible to you.');
        expect(element.shadowRoot.querySelector('[data-id="ac-status"]')).toBeNull();
    });

    it('resyncs the record and tells the user what happened', async () => {
        resync.mockResolvedValue('Sent to ActiveCampaign.');
        const element = mount();
        getStatus.emit(STATUS);
        await settle();
        const toasts = [];
        element.addEventListener(ShowToastEventName, (event) => toasts.push(event.detail));

        element.shadowRoot.querySelector('[data-id="resync"]').click();
        await settle();

        expect(resync).toHaveBeenCalledWith({ recordId: '003000000000001AAA' });
        expect(toasts).toEqual([expect.objectContaining({ message: 'Sent to ActiveCampaign.', variant: 'success' })]);
    });

    it('tells the user when the resync fails', async () => {
        resync.mockRejectedValue({ body: { message: 'Only Contact and Lead records are synced with ActiveCampaign.' } });
        const element = mount();
        getStatus.emit(STATUS);
        await settle();
        const toasts = [];
        element.addEventListener(ShowToastEventName, (event) => toasts.push(event.detail));

        element.shadowRoot.querySelector('[data-id="resync"]').click();
        await settle();

        expect(toasts).toEqual([
            expect.objectContaining({
                message: 'Only Contact and Lead records are synced with ActiveCampaign.',
                variant: 'error'
            })
        ]);
    });

    it('says a field is hidden rather than showing an empty value as a fact', async () => {
        const element = mount();
        getStatus.emit({
            ...STATUS,
            optedOut: null,
            acStatus: null,
            optOutSource: null,
            hiddenFields: ['optedOut', 'AC_Status__c', 'Opt_Out_Source__c'],
            auditVisible: false,
            recentAudit: []
        });
        await settle();

        expect(text(element, 'opt-out')).toBe('Hidden');
        expect(text(element, 'ac-status')).toBe('Hidden');
        expect(text(element, 'source')).toBe('Hidden');
        expect(text(element, 'audit-hidden')).toBe('You cannot read the OptOutSync audit log.');
    });

    it('sends a record once however often Resync is clicked within a minute, and again after it', async () => {
        resync.mockResolvedValue('Sent to ActiveCampaign.');
        let now = Date.parse('2026-01-01T00:00:00Z');
        const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
        const element = mount();
        getStatus.emit(STATUS);
        await settle();
        const toasts = [];
        element.addEventListener(ShowToastEventName, (event) => toasts.push(event.detail));
        const button = () => element.shadowRoot.querySelector('[data-id="resync"]');

        button().click();
        await settle();
        now += 5000;
        button().click();
        button().click();
        await settle();
        now += 60000;
        button().click();
        await settle();
        clock.mockRestore();

        expect(resync).toHaveBeenCalledTimes(2);
        expect(toasts.map((toast) => toast.variant)).toEqual(['success', 'info', 'info', 'success']);
        expect(toasts[1].message).toBe('Already sent 5 seconds ago: the middleware is on it.');
    });
});
