import { createElement } from 'lwc';
import OptOutSyncAdmin from 'c/optOutSyncAdmin';
import getOverview from '@salesforce/apex/OptOutSyncAdminController.getOverview';

jest.mock('@salesforce/apex/OptOutSyncAdminController.getOverview', () => ({ default: jest.fn() }), {
    virtual: true
});

const OVERVIEW = {
    eventMode: 'RELAY',
    auditLevel: 'FAILURES',
    pushEnabled: true,
    optOutField: 'HasOptedOutOfEmail',
    settingsRecordExists: false,
    recentEvents: [{ Id: 'a00000000000001AAA', Direction__c: 'SF_TO_AC', Record_Id__c: '003000000000001', Result__c: 'applied' }],
    recentFailures: [
        { Id: 'a00000000000002AAA', Result__c: 'RELAY_GAP', Record_Id__c: '003*', Reason__c: 'Not relayed: LIMIT_EXCEEDED' }
    ],
    checks: [
        { label: 'Exactly one active user holds OptOutSync_Integration', ok: true },
        { label: 'CampaignMember: read (Campaign scope)', ok: false }
    ]
};

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const text = (element, id) => element.shadowRoot.querySelector(`[data-id="${id}"]`)?.textContent;

async function mount() {
    const element = createElement('c-opt-out-sync-admin', { is: OptOutSyncAdmin });
    document.body.appendChild(element);
    await settle();
    return element;
}

describe('c-opt-out-sync-admin', () => {
    afterEach(() => {
        while (document.body.firstChild) {
            document.body.removeChild(document.body.firstChild);
        }
        jest.clearAllMocks();
    });

    it('shows the relay mode, the settings in force, the failures and each failed permission check', async () => {
        getOverview.mockResolvedValue(OVERVIEW);
        const element = await mount();

        expect(text(element, 'event-mode')).toBe('RELAY');
        expect(text(element, 'push')).toBe('On');
        expect(text(element, 'audit-level')).toBe('Failures only');
        expect(text(element, 'settings')).toBe('Package defaults (no settings record)');
        expect(text(element, 'failures')).toContain('RELAY_GAP 003*: Not relayed: LIMIT_EXCEEDED');
        expect(text(element, 'checks')).toContain('Missing: CampaignMember: read (Campaign scope)');
        expect(element.shadowRoot.querySelector('[data-id="checks-pass"]')).toBeNull();
        expect(text(element, 'events')).toContain('SF_TO_AC 003000000000001: applied');
    });

    it('says so when every check passes and nothing failed', async () => {
        getOverview.mockResolvedValue({
            ...OVERVIEW,
            recentFailures: [],
            checks: [{ label: 'Exactly one active user holds OptOutSync_Integration', ok: true }]
        });
        const element = await mount();

        expect(text(element, 'checks-pass')).toBe('The integration user has what it needs.');
        expect(text(element, 'no-failures')).toBe('None.');
    });

    it('shows the error when the overview cannot be read, and reads again on Refresh', async () => {
        getOverview.mockRejectedValueOnce({ body: { message: 'Insufficient access' } });
        const element = await mount();
        expect(text(element, 'error')).toBe('Insufficient access');

        getOverview.mockResolvedValue(OVERVIEW);
        element.shadowRoot.querySelector('[data-id="refresh"]').click();
        await settle();

        expect(getOverview).toHaveBeenCalledTimes(2);
        expect(text(element, 'event-mode')).toBe('RELAY');
    });
});
