// A Salesforce write whose answer never came within the client's timeout may still have been applied (the org
// commits after the caller gave up: slow update triggers and flows). Found by the Pub/Sub chaos run (3 writes of a
// record, 2 audited): the audit said "failed", Salesforce held the new value, and the retry found nothing left to
// write. The audit says what is known: the outcome is unknown, and the job goes again.
import { readySandboxPerSuite } from '../support/sandbox-suite';
import { waitFor } from '../support/wait-for';

describe('a Salesforce write answered after the client gave up (pglite)', () => {
  const sandboxOf = readySandboxPerSuite('pglite', { persistent: true }, { sfTimeoutMs: 1000 });

  test('when the write times out but Salesforce applied it, then the audit says its outcome was unknown, not failed, and the record holds the opt-out', async () => {
    const sandbox = sandboxOf();
    const { sf, ac } = sandbox;
    const list = ac.createList('Late answers');
    const email = 'late.answer@example.com';
    ac.createContact(email, { lists: { [list.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Late', Email: email, HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    sf.setWriteLatency(1500);
    try {
      ac.unsubscribe(email, list.id);
      await waitFor(() => sf.get('Contact', id)?.HasOptedOutOfEmail === true, { what: 'the opt-out applied in Salesforce', timeoutMs: 20_000 });
      await waitFor(async () => (await sandbox.app!.store.audit.historyForEmail(email)).some((a) => a.decision === 'update-salesforce' && a.result.startsWith('outcome unknown')), { what: 'an audit of the write whose outcome is unknown', timeoutMs: 20_000 });
    } finally {
      sf.setWriteLatency(0);
    }
    const audits = await sandbox.app!.store.audit.historyForEmail(email);
    expect(audits.filter((a) => a.decision === 'update-salesforce' && a.result.startsWith('failed'))).toEqual([]);
  }, 60_000);
});
