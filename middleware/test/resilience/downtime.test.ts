// Issue 3 item 7 and issue 4 item 6: what happens while the middleware is down. On the push side the stored replay
// id may have expired by the time it comes back (reconcile by SOQL, gap recorded); on the pull side AC's webhook
// delivery fails and AC never retries (the next poll picks the change up). Event mode CDC (the emulator's default
// settings record says so, made explicit here). The store persists across the restart (PGlite on disk).
import { z } from 'zod';
import { engines } from '../support/test-databases';
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { patchRecord } from '../support/salesforce-user';
import { isOptedOut, readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

const gapRow = z.object({ channel: z.string(), reason: z.string(), lost_replay_id: z.string().nullable() });

describe.each(engines)('downtime on %s', (engine) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox(engine, { persistent: true, sf: { settings: { Event_Mode__c: 'CDC' } } });
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when the stored replay id expired during downtime, then the opt-out made meanwhile is applied by reconcile and the gap is recorded', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Replay');
    const [before1, before2, during] = ['before1', 'before2', 'during'].map((name) => {
      const email = `${name}@replay.example.com`;
      ac.createContact(email, { lists: { [list.id]: 1 } });
      return { email, id: String(sf.insert('Contact', { LastName: name, Email: email, HasOptedOutOfEmail: false }).Id) };
    });
    // Two events handled before the stop, so that a real replay id (not "everything retained") is stored.
    for (const p of [before1!, before2!]) {
      await patchRecord(sf, 'Contact', p.id, { HasOptedOutOfEmail: true });
      await waitFor(() => Number(ac.contactByEmail(p.email)?.lists[list.id]) === 2, { what: `${p.email} unsubscribed` });
    }
    await sandbox.stopApp();

    await patchRecord(sf, 'Contact', during!.id, { HasOptedOutOfEmail: true });
    // Retention passes while we are down: every retained event, including the stored replay id, is gone.
    sf.purgeEvents();

    await sandbox.startApp();
    await waitFor(() => Number(ac.contactByEmail(during!.email)?.lists[list.id]) === 2, { what: 'the change made while down applied', timeoutMs: 20_000 });
    const readGaps = async () => (await sandbox.app!.store.db.query(`SELECT channel, reason, lost_replay_id FROM stream_gaps`)).rows.map((r) => gapRow.parse(r));
    // The window from the expiry to the moment the -1 subscription is live is recorded once the stream is confirmed:
    // on CometD at the handshake, on Pub/Sub at its first response (a keepalive, 500 ms here, within 270 s at
    // Salesforce), which may come after the reconcile of the expired id already applied the change.
    const gaps = await waitFor(async () => {
      const rows = await readGaps();
      return rows.some((g) => g.reason === 'events published before a -1 subscription went live cannot be replayed') && rows;
    }, { what: 'the gap up to the -1 subscription going live recorded' });
    expect(gaps).toEqual(expect.arrayContaining([expect.objectContaining({ channel: '/data/OptOutSync__chn', reason: 'replay id expired' })]));
    expect(gaps.filter((g) => g.reason === 'replay id expired').every((g) => g.lost_replay_id !== null)).toBe(true);
    // Once the -1 subscription is live, the window up to it is recorded too (no reconcile may query before that).
    expect(gaps).toEqual(expect.arrayContaining([expect.objectContaining({ channel: '/data/OptOutSync__chn', reason: 'events published before a -1 subscription went live cannot be replayed' })]));
    // AC is written before the job's transaction commits its audit: wait for the audit, then count.
    const history = await waitFor(async () => {
      const entries = await sandbox.app!.store.audit.historyForEmail(during!.email);
      return entries.some((h) => h.decision === 'unsubscribe-list') && entries;
    }, { what: 'audit of the reconciled opt-out' });
    expect(history.filter((h) => h.decision === 'unsubscribe-list' && h.result === 'unsubscribed')).toHaveLength(1);
    await waitFor(async () => (await sandbox.app!.status()).stream?.connected === true, { what: 'stream connected again' });
  }, 45_000);

  test('when a contact unsubscribes in AC while the middleware is down, then the next poll opts the record out', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Down');
    ac.createContact('down@example.com', { lists: { [list.id]: 1 } });
    const contact = String(sf.insert('Contact', { LastName: 'Down', Email: 'down@example.com', HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    await sandbox.stopApp();

    const deliveriesBefore = ac.webhookDeliveries.length;
    ac.unsubscribe('down@example.com', 'all');
    await ac.webhooksIdle();
    // AC tried once, could not reach us, and will never retry.
    const attempts = ac.webhookDeliveries.slice(deliveriesBefore);
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.every((d) => d.status === undefined && d.error !== undefined)).toBe(true);
    expect(isOptedOut(sandbox, 'Contact', contact)).toBe(false);

    await sandbox.startApp();
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact), { what: 'record opted out by the poll after the restart', timeoutMs: 20_000 });
    expect(sf.get('Contact', contact)?.Opt_Out_Source__c).toBe('ActiveCampaign Unsubscribe');
  }, 45_000);
});
