// Regression kept from the system model test (CI, pglite#2): an opted-out record moved to another address (R1 for
// the new address), then the middleware restarted. The stream resumes one event back, and the replayed Email change
// was queued again: its time is the move's, never the opt-out's the redelivery filter compared with. Queued twice,
// R1 ran again after a subscribe the person made while the middleware was down (within the move's second, which R1
// cannot order after the move) and unsubscribed it. The same event twice must change nothing the second time.
import { engines } from '../../support/test-databases';
import { readySandboxPerSuite } from '../../support/sandbox-suite';
import { readyApp } from '../../support/sandbox-queries';
import { patchRecord } from '../../support/salesforce-user';
import { settle } from './settle';

describe.each(engines)('a re-delivered Email change of an opted-out record on %s', (engine) => {
  const sandboxOf = readySandboxPerSuite(engine, { persistent: true });

  test('when the stream replays an already handled move after a restart, then R1 is not queued again and a list joined since stays active', async () => {
    const sandbox = sandboxOf();
    const known = sandbox.ac.createList('Known');
    const joined = sandbox.ac.createList('Joined while down');
    sandbox.ac.createContact('moved-to@example.com', { lists: { [known.id]: 1 } });
    const contact = sandbox.sf.insert('Contact', { LastName: 'Mover', Email: 'moved-from@example.com', HasOptedOutOfEmail: false });
    await settle(sandbox);
    await patchRecord(sandbox.sf, 'Contact', String(contact.Id), { HasOptedOutOfEmail: true });
    await settle(sandbox);
    await patchRecord(sandbox.sf, 'Contact', String(contact.Id), { Email: 'Moved-To@example.com' });
    await settle(sandbox);
    expect(sandbox.ac.contactByEmail('moved-to@example.com')?.lists[known.id]).toBe(2);
    // R1 starts each time by reading the contact by its email (the push path's read); a poll reads by id.
    const r1Reads = () => sandbox.ac.requestLog.filter((r) => r.method === 'GET' && decodeURIComponent(r.url).toLowerCase().includes('email=moved-to@example.com')).length;
    const handledOnce = r1Reads();
    expect(handledOnce).toBeGreaterThan(0);

    await sandbox.stopApp();
    sandbox.ac.subscribe('moved-to@example.com', joined.id);
    await sandbox.ac.webhooksIdle();
    await sandbox.startApp();
    await readyApp(sandbox);
    await settle(sandbox);

    expect(r1Reads()).toBe(handledOnce);
    expect(sandbox.ac.contactByEmail('moved-to@example.com')?.lists[joined.id]).toBe(1);
    expect(sandbox.sf.get('Contact', String(contact.Id))?.HasOptedOutOfEmail).toBe(true);
  });
});
