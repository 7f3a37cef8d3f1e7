// Issue 6 item 5: product settings live in the org's custom metadata (OptOutSync_Settings__mdt, record Default).
// A test changes the record in the Salesforce emulator, asks the middleware to re-read it (what its schedule does)
// and shows it acting on the new value; without the package, the documented defaults apply.
// Event mode CDC throughout (set explicitly: the package's own default record says RELAY, whose events come from
// the Apex relay that does not run in the emulator).
import { engines } from '../support/test-databases';
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { patchRecord } from '../support/salesforce-user';
import { readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

const settingsType = 'OptOutSync_Settings__mdt';
const baseSettings = { Opt_Out_Field__c: 'HasOptedOutOfEmail', Push_Enabled__c: true, Pull_Enabled__c: true, Resubscribe_On_Opt_In__c: false, Hard_Bounce_Opts_Out__c: true, Event_Mode__c: 'CDC' };

describe.each(engines)('settings from the org on %s', (engine) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox(engine, { sf: { settings: { Event_Mode__c: 'CDC' }, customFields: { Contact: [{ name: 'Marketing_Opt_Out__c', type: 'boolean' }] } } });
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });
  afterEach(async () => {
    sandbox.sf.setPackageInstalled(true);
    sandbox.sf.setCustomMetadata(settingsType, 'Default', baseSettings);
    await sandbox.app?.settings.refresh();
  });

  test('when the opt-out field is changed to a custom checkbox, then that field drives the unsubscribe and Email Opt Out no longer does', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Custom field');
    ac.createContact('custom@example.com', { lists: { [list.id]: 1 } });
    ac.createContact('standard@example.com', { lists: { [list.id]: 1 } });
    const custom = String(sf.insert('Contact', { LastName: 'Custom', Email: 'custom@example.com', HasOptedOutOfEmail: false, Marketing_Opt_Out__c: false }).Id);
    const standard = String(sf.insert('Contact', { LastName: 'Standard', Email: 'standard@example.com', HasOptedOutOfEmail: false, Marketing_Opt_Out__c: false }).Id);

    sf.setCustomMetadata(settingsType, 'Default', { ...baseSettings, Opt_Out_Field__c: 'Marketing_Opt_Out__c' });
    const settings = await sandbox.app!.settings.refresh();
    expect(settings.optOutField).toBe('Marketing_Opt_Out__c');

    await patchRecord(sf, 'Contact', standard, { HasOptedOutOfEmail: true });
    await patchRecord(sf, 'Contact', custom, { Marketing_Opt_Out__c: true });
    await waitFor(() => Number(ac.contactByEmail('custom@example.com')?.lists[list.id]) === 2, { what: 'custom-field opt-out applied' });
    // The standard field's change was on the stream before the custom one: it has been seen and ignored.
    expect(Number(ac.contactByEmail('standard@example.com')?.lists[list.id])).toBe(1);
  });

  test('when Resubscribe_On_Opt_In__c is turned on, then an opt-in re-subscribes only the lists this product unsubscribed, and never after a bounce', async () => {
    const { sf, ac } = sandbox;
    const ours = ac.createList('Ours');
    const theirs = ac.createList('Theirs');
    ac.createContact('back@settings.example.com', { lists: { [ours.id]: 1, [theirs.id]: 2 } });
    ac.createContact('bounced@settings.example.com', { lists: { [ours.id]: 1 } });
    const back = String(sf.insert('Contact', { LastName: 'Back', Email: 'back@settings.example.com', HasOptedOutOfEmail: false }).Id);
    const bounced = String(sf.insert('Contact', { LastName: 'Bounced', Email: 'bounced@settings.example.com', HasOptedOutOfEmail: false }).Id);

    sf.setCustomMetadata(settingsType, 'Default', { ...baseSettings, Resubscribe_On_Opt_In__c: true });
    expect((await sandbox.app!.settings.refresh()).resubscribeOnOptIn).toBe(true);

    for (const id of [back, bounced]) await patchRecord(sf, 'Contact', id, { HasOptedOutOfEmail: true });
    await waitFor(() => Number(ac.contactByEmail('back@settings.example.com')?.lists[ours.id]) === 2 && Number(ac.contactByEmail('bounced@settings.example.com')?.lists[ours.id]) === 2, { what: 'both unsubscribed' });
    ac.hardBounce('bounced@settings.example.com');

    for (const id of [back, bounced]) await patchRecord(sf, 'Contact', id, { HasOptedOutOfEmail: false });
    await waitFor(() => Number(ac.contactByEmail('back@settings.example.com')?.lists[ours.id]) === 1, { what: 'our list re-subscribed' });
    // The list the person left on their own stays left.
    expect(Number(ac.contactByEmail('back@settings.example.com')?.lists[theirs.id])).toBe(2);
    await waitFor(async () => (await sandbox.app!.store.audit.historyForEmail('bounced@settings.example.com')).some((a) => a.decision === 'opt-in'), { what: 'opt-in decided for the bounced contact' });
    const decision = (await sandbox.app!.store.audit.historyForEmail('bounced@settings.example.com')).find((a) => a.decision === 'opt-in');
    expect(decision?.result).toMatch(/bounce|still opted out/);
    expect(Number(ac.contactByEmail('bounced@settings.example.com')?.lists[ours.id])).not.toBe(1);
  });

  test('when the package is not installed, then the defaults apply and an opt-out still reaches AC without the custom fields', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('No package');
    ac.createContact('nopackage@example.com', { lists: { [list.id]: 1 } });
    const contact = String(sf.insert('Contact', { LastName: 'NoPackage', Email: 'nopackage@example.com', HasOptedOutOfEmail: false }).Id);

    sf.setPackageInstalled(false);
    const settings = await sandbox.app!.settings.refresh();
    expect(sandbox.app!.settings.source).toBe('defaults');
    expect(settings.optOutField).toBe('HasOptedOutOfEmail');
    // The package's custom channel is gone with it; the standard CDC channel is what an org without it streams on.
    // Reconcile (SOQL) is the mode-independent way in, and is what the middleware runs after a gap.
    await patchRecord(sf, 'Contact', contact, { HasOptedOutOfEmail: true });
    await sandbox.app!.reconcileNow('package removed');
    await waitFor(() => Number(ac.contactByEmail('nopackage@example.com')?.lists[list.id]) === 2, { what: 'opt-out applied without the package' });
    expect(sf.get('Contact', contact)?.AC_Hard_Bounced__c).toBeUndefined();
  });
});
