// Issue 16 review finding: right after install a channel's checkpoint is "-2" (one distinct replay id seen so far,
// so no resume point is known yet). A restart after more than the 72 h event retention subscribes with -2, Salesforce
// replays only what it still holds and reports nothing, so every change whose event was purged meanwhile would be
// lost until the nightly full reconciliation. Resuming from a stored -2 records a stream gap from the checkpoint's
// last write, before subscribing, and the stream-gap reconcile finds those changes by SOQL. On both transports.
import { z } from 'zod';
import { engines } from '../support/test-databases';
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { patchRecord } from '../support/salesforce-user';
import { readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

const channel = '/data/OptOutSync__chn';
const gapRow = z.object({ channel: z.string(), reason: z.string(), since: z.coerce.date().nullable(), reconciled_at: z.coerce.date().nullable() });
const suites = engines.flatMap((engine) => (['cometd', 'pubsub'] as const).map((transport) => [engine, transport] as const));

describe.each(suites)('downtime while the checkpoint is still "-2" (%s, %s)', (engine, transport) => {
  let sandbox: Sandbox;
  let listId: string;
  let first: { email: string; id: string };
  let during: { email: string; id: string };

  beforeAll(async () => {
    sandbox = await startSandbox(engine, { persistent: true, transport, sf: { settings: { Event_Mode__c: 'CDC' } } });
    listId = sandbox.ac.createList('FirstCheckpoint').id;
    [first, during] = ['first', 'during'].map((name) => {
      const email = `${name}@first-checkpoint.example.com`;
      sandbox.ac.createContact(email, { lists: { [listId]: 1 } });
      return { email, id: String(sandbox.sf.insert('Contact', { LastName: name, Email: email, HasOptedOutOfEmail: false }).Id) };
    }) as [typeof first, typeof during];
    // The creations are not part of the story: the first subscription (nothing stored: -1) would not see them anyway.
    sandbox.sf.purgeEvents();
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  const unsubscribed = (email: string) =>
    waitFor(() => Number(sandbox.ac.contactByEmail(email)?.lists[listId]) === 2, { what: `${email} unsubscribed`, timeoutMs: 20_000 });
  const gaps = async () => (await sandbox.app!.store.db.query(`SELECT channel, reason, since, reconciled_at FROM stream_gaps ORDER BY id`)).rows.map((r) => gapRow.parse(r));

  test('when the middleware is down past the retention after exactly one change event, then the opt-out made meanwhile reaches AC through a stream-gap reconcile from the checkpoint time', async () => {
    await patchRecord(sandbox.sf, 'Contact', first.id, { HasOptedOutOfEmail: true });
    await unsubscribed(first.email);
    // Exactly one distinct replay id seen: the row exists, and the resume point is "everything retained".
    expect(await sandbox.app!.store.replay.load(channel)).toBe('-2');
    const checkpointAt = await sandbox.app!.store.replay.lastGoodAt(channel);
    expect(checkpointAt).not.toBeNull();
    expect(await gaps()).toEqual([]);
    await sandbox.stopApp();

    await patchRecord(sandbox.sf, 'Contact', during.id, { HasOptedOutOfEmail: true });
    // Retention passes while we are down: -2 replays nothing, and Salesforce says nothing about it.
    sandbox.sf.purgeEvents();

    await sandbox.startApp();
    await unsubscribed(during.email);
    expect((await sandbox.app!.status()).stream?.channels[channel]?.subscribedFrom).toBe('-2');
    const closed = await waitFor(async () => {
      const rows = (await gaps()).filter((g) => g.channel === channel);
      return rows.length > 0 && rows.every((g) => g.reconciled_at !== null) && rows;
    }, { what: 'the gap of the -2 resume reconciled and closed' });
    expect(closed).toEqual([expect.objectContaining({ channel, since: checkpointAt, reason: expect.stringMatching(/-2/) })]);
    const history = await waitFor(async () => {
      const entries = await sandbox.app!.store.audit.historyForEmail(during.email);
      return entries.some((h) => h.decision === 'unsubscribe-list') && entries;
    }, { what: 'audit of the reconciled opt-out' });
    expect(history.filter((h) => h.decision === 'unsubscribe-list' && h.result === 'unsubscribed')).toHaveLength(1);
  }, 60_000);
});
