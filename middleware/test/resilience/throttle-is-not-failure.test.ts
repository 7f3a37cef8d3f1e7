// ActiveCampaign's 429 is "slow down", not an outage and not the contact's fault: an opt-out that meets one waits
// what AC asks (Retry-After) and goes again, without using an attempt, without growing back-off and without opening
// the vendor circuit. Found by bench:push on a busy machine: a few hundred 429s put thousands of opt-outs into
// back-off of up to 5 minutes while the account's budget sat unused.
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

describe('throttling on pglite', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    // Production-like back-off: a failed attempt waits 20 s, the next 40 s.
    sandbox = await startSandbox('pglite', { env: { JOB_BACKOFF_BASE_MS: '20000' } });
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when AC answers 429 to opt-outs a few times in a row, then they are applied right after Retry-After and the circuit stays closed', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Throttled');
    const people = Array.from({ length: 4 }, (_, i) => `throttled-${i}@example.com`);
    for (const email of people) ac.createContact(email, { lists: { [list.id]: 1 } });
    const ids = people.map((email) => String(sf.insert('Contact', { LastName: 'Throttled', Email: email, HasOptedOutOfEmail: false }).Id));
    await sandbox.app!.pollNow();
    ac.setFault({ status: 429, retryAfterSeconds: 1, durationMs: 4000 });
    const started = Date.now();
    for (const id of ids) sf.update('Contact', id, { HasOptedOutOfEmail: true }, { asUserId: sf.users.admin.id });
    await waitFor(() => people.every((email) => Number(ac.contactByEmail(email)?.lists[list.id]) === 2), { what: 'every opt-out applied', timeoutMs: 15_000, intervalMs: 100 });
    // 4 s of 429s, then Retry-After (1 s): a growing back-off from 20 s would have waited far longer.
    expect(Date.now() - started).toBeLessThan(10_000);
    const dead = await sandbox.app!.store.jobs.listDeadLetters();
    expect(dead).toEqual([]);
    const status = (await sandbox.app!.status()) as { health: { circuits: { vendor: string; open: boolean; consecutiveFailures: number }[] } };
    expect(status.health.circuits.find((c) => c.vendor === 'activecampaign')).toMatchObject({ open: false, consecutiveFailures: 0 });
    ac.clearFaults();
  }, 40_000);
});
