// An opted-out Contact whose address changed while the middleware was down must leave the new address unsubscribed
// (R1 applies to the record's current email), and the new address's other record follows (R3). Found by the system
// model (seed 1928881209): the opt-out this product wrote after an AC unsubscribe (R3) and the move, made in the same
// second, have one time to Salesforce's second precision, and the replayed move was dropped as a redelivery.
import { readySandboxPerSuite } from '../support/sandbox-suite';
import { patchRecord } from '../support/salesforce-user';
import { waitFor } from '../support/wait-for';

describe('an opted-out record moved to another address while the middleware was down (pglite)', () => {
  const sandboxOf = readySandboxPerSuite('pglite', { persistent: true });

  test.each([
    { name: 'unconfirmed', how: 'opted out in Salesforce, new address unconfirmed on a list', status: 0 as const, typed: (e: string) => e, viaAc: false },
    { name: 'mixedcase', how: 'opted out in Salesforce, new address typed in mixed case', status: 1 as const, typed: (e: string) => e.charAt(0).toUpperCase() + e.slice(1), viaAc: false },
    { name: 'acoptout', how: 'opted out by this product after an AC unsubscribe, moved in the same second', status: 0 as const, typed: (e: string) => e, viaAc: true },
  ])('when the record was $how, then the new address is unsubscribed and its other record opted out', async ({ name, status, typed, viaAc }) => {
    const sandbox = sandboxOf();
    const { sf, ac } = sandbox;
    const list = ac.createList(`${name} list`);
    const oldEmail = `${name}.old@example.com`;
    const newEmail = `${name}.new@example.com`;
    ac.createContact(oldEmail, { lists: { [list.id]: 1 } });
    ac.createContact(newEmail, { lists: { [list.id]: status } });
    const moving = String(sf.insert('Contact', { LastName: `${name} mover`, Email: oldEmail, HasOptedOutOfEmail: false }).Id);
    const other = String(sf.insert('Contact', { LastName: `${name} other`, Email: newEmail, HasOptedOutOfEmail: false }).Id);
    await waitFor(async () => (await sandbox.app!.store.jobs.counts()).every((c) => c.state === 'dead' || c.n === 0), { what: 'queues empty' });
    // Opted out in Salesforce by the person, or by this product after the person left every list in AC (R3).
    // A poll first: an R3 is a move from some active list to none, seen against what the product knew before.
    await sandbox.app!.pollNow();
    // Early in a second: the R3 write and the move below then share it, as they did in the system model's run.
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000)));
    if (viaAc) ac.unsubscribe(oldEmail, list.id);
    else await patchRecord(sf, 'Contact', moving, { HasOptedOutOfEmail: true });
    await waitFor(() => Number(ac.contactByEmail(oldEmail)?.lists[list.id]) === 2, { what: 'the old address unsubscribed' });
    await waitFor(() => sf.get('Contact', moving)?.HasOptedOutOfEmail === true, { what: 'the moving record opted out' });
    await waitFor(async () => (await sandbox.app!.store.jobs.counts()).every((c) => c.state === 'dead' || c.n === 0), { what: 'queues empty' });
    await sandbox.stopApp();
    await patchRecord(sf, 'Contact', moving, { Email: typed(newEmail) });
    await sandbox.startApp();
    await waitFor(() => Number(ac.contactByEmail(newEmail)?.lists[list.id]) === 2, { what: 'the new address unsubscribed', timeoutMs: 20_000 });
    await waitFor(() => sf.get('Contact', other)?.HasOptedOutOfEmail === true, { what: 'the other record opted out (R3)', timeoutMs: 20_000 });
  }, 60_000);
});
