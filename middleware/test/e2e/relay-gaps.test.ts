// The running middleware reads what the package's relay could not relay: an OptOutSync_Audit__c RELAY_GAP row naming
// an opted-out Contact whose own change event never reaches the middleware (written as the integration user, so its
// echo is dropped) still ends in an ActiveCampaign unsubscribe, and the row is marked read.
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { waitFor } from '../support/wait-for';

describe('relay gaps in the running middleware', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox('pglite');
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when the relay recorded a gap, then the leader re-reads the record at start and the opt-out reaches ActiveCampaign', async () => {
    const news = sandbox.ac.createList('News');
    sandbox.ac.createContact('gap@example.com', { lists: { [news.id]: 1 } });
    const contact = sandbox.sf.insert('Contact', { LastName: 'Gap', Email: 'gap@example.com', HasOptedOutOfEmail: true }, sandbox.sf.users.integration.id);
    const row = sandbox.sf.insert('OptOutSync_Audit__c', { Direction__c: 'SF_TO_AC', Record_Id__c: String(contact.Id), Result__c: 'RELAY_GAP', Reason__c: 'Not relayed: publish refused', Occurred_At__c: new Date().toISOString() }, sandbox.sf.users.admin.id);

    await sandbox.startApp();

    await waitFor(() => Number(sandbox.ac.contactByEmail('gap@example.com')?.lists[news.id]) === 2, { what: 'unsubscribed in ActiveCampaign', timeoutMs: 30_000 });
    await waitFor(() => sandbox.sf.get('OptOutSync_Audit__c', String(row.Id))?.Result__c === 'RELAY_GAP_READ', { what: 'the gap row marked read' });
  });
});
