// Regression kept from the system model test (shrunk case): an opt-out made while the email was not in
// ActiveCampaign, then the person subscribes in AC while the middleware is down. On restart the stream resumes one
// event back and re-delivered the opt-out, which was queued again and unsubscribed the list the person had just
// joined. The model keeps the subscribe: R1 acts when the opt-out is made, on the lists the email is on then.
import { engines } from '../../support/test-databases';
import { startSandbox, type Sandbox } from '../../support/sandbox-harness';
import { readyApp } from '../../support/sandbox-queries';
import { patchRecord } from '../../support/salesforce-user';
import { settle } from './settle';

describe.each(engines)('a re-delivered opt-out on %s', (engine) => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox(engine, { persistent: true });
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when the stream replays an already handled opt-out after a restart, then a list joined since stays active', async () => {
    const list = sandbox.ac.createList('Joined later');
    const contact = sandbox.sf.insert('Contact', { LastName: 'Later', Email: 'Later@Example.com', HasOptedOutOfEmail: false });
    await settle(sandbox);
    await patchRecord(sandbox.sf, 'Contact', String(contact.Id), { HasOptedOutOfEmail: true });
    await settle(sandbox);
    await sandbox.stopApp();
    sandbox.ac.subscribe('later@example.com', list.id);
    await sandbox.ac.webhooksIdle();
    await sandbox.startApp();
    await readyApp(sandbox);
    await settle(sandbox);
    expect(sandbox.ac.contactByEmail('later@example.com')?.lists[list.id]).toBe(1);
    expect(sandbox.sf.get('Contact', String(contact.Id))?.HasOptedOutOfEmail).toBe(true);
  });
});
