// The push path on the Pub/Sub API transport, end to end through the real middleware (SF_EVENT_TRANSPORT=pubsub):
// the emulator's gRPC server over TLS, the middleware trusting its certificate through SF_PUBSUB_CA_FILE, the
// real store. Same expectations as the CometD path: opt-outs reach AC, a restart replays from the stored id, an
// expired id is reconciled and both gap windows are recorded, gap events re-read the records.
import { z } from 'zod';
import { engines } from '../../support/test-databases';
import { startSandbox, type Sandbox } from '../../support/sandbox-harness';
import { patchRecord } from '../../support/salesforce-user';
import { waitFor } from '../../support/wait-for';

const gapRow = z.object({ channel: z.string(), reason: z.string(), lost_replay_id: z.string().nullable() });
const channel = '/data/OptOutSync__chn';

describe.each(engines)('push path on the Pub/Sub API (%s)', (engine) => {
  let sandbox: Sandbox;

  const gaps = async () => (await sandbox.app!.store.db.query(`SELECT channel, reason, lost_replay_id FROM stream_gaps ORDER BY id`)).rows.map((r) => gapRow.parse(r));
  const unsubscribed = (email: string, listId: string) =>
    waitFor(() => Number(sandbox.ac.contactByEmail(email)?.lists[listId]) === 2, { what: `${email} unsubscribed`, timeoutMs: 20_000 });
  const person = (name: string, listId: string) => {
    const email = `${name}@pubsub.example.com`;
    sandbox.ac.createContact(email, { lists: { [listId]: 1 } });
    return { email, id: String(sandbox.sf.insert('Contact', { LastName: name, Email: email, HasOptedOutOfEmail: false }).Id) };
  };
  const streamConnected = () => waitFor(async () => (await sandbox.app!.status()).stream?.connected === true, { what: 'stream connected' });

  beforeAll(async () => {
    sandbox = await startSandbox(engine, { persistent: true, transport: 'pubsub', sf: { settings: { Event_Mode__c: 'CDC' } } });
    await sandbox.startApp();
    await streamConnected();
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when Email Opt Out is patched, then AC is unsubscribed through the gRPC stream and the checkpoint holds a Pub/Sub replay id', async () => {
    const list = sandbox.ac.createList('PubSub');
    const ada = person('ada', list.id);
    await patchRecord(sandbox.sf, 'Contact', ada.id, { HasOptedOutOfEmail: true });
    await unsubscribed(ada.email, list.id);
    expect(sandbox.sf.cometdClients()).toEqual([]);
    expect(sandbox.sf.pubSub.openStreams().map((s) => s.channel)).toContain(channel);
    const stored = await waitFor(() => sandbox.app!.store.replay.load(channel), { what: 'checkpoint' });
    expect(stored).toMatch(/^(pubsub:|-2$)/);
  });

  test('when a GAP_UPDATE event names a record, then the record is re-read and its opt-out applied', async () => {
    const list = sandbox.ac.createList('Gap');
    const gap = person('gap', list.id);
    // Changed without a change event on the custom channel (the channel is briefly absent), then reported as a gap.
    sandbox.sf.setPackageInstalled(false);
    sandbox.sf.update('Contact', gap.id, { HasOptedOutOfEmail: true });
    sandbox.sf.setPackageInstalled(true);
    sandbox.sf.injectGap('Contact', [gap.id], 'GAP_UPDATE');
    await unsubscribed(gap.email, list.id);
  });

  test('when an event in a batch cannot be decoded with its schema, then it is quarantined with the reason, its change is reconciled, the rest of the batch is applied and the checkpoint moves past it', async () => {
    const list = sandbox.ac.createList('Undecodable');
    const [first, bad, last] = ['undecodable-first', 'undecodable-bad', 'undecodable-last'].map((name) => person(name, list.id));
    sandbox.sf.pubSub.corruptPayloads((message) => {
      const header = message.data.payload.ChangeEventHeader as { recordIds?: unknown; changeType?: unknown } | undefined;
      return header?.changeType === 'UPDATE' && Array.isArray(header.recordIds) && header.recordIds.includes(bad!.id);
    });
    // A change handled first, so that a replay id is stored; then stopped while the three change, so that they come
    // back as one replayed batch.
    const primer = person('undecodable-primer', list.id);
    await patchRecord(sandbox.sf, 'Contact', primer.id, { HasOptedOutOfEmail: true });
    await unsubscribed(primer.email, list.id);
    await sandbox.stopApp();
    for (const p of [first!, bad!, last!]) await patchRecord(sandbox.sf, 'Contact', p.id, { HasOptedOutOfEmail: true });
    await sandbox.startApp();
    await unsubscribed(first!.email, list.id);
    await unsubscribed(last!.email, list.id);
    const undecodableRows = async () => (await sandbox.app!.store.quarantine.list()).filter((q) => q.raw.includes('Avro payload undecodable with schema'));
    const quarantined = await waitFor(async () => {
      const rows = await undecodableRows();
      return rows.length > 0 && rows;
    }, { what: 'the undecodable event quarantined' });
    expect(new Set(quarantined.map((q) => q.raw))).toEqual(new Set([quarantined[0]!.raw]));
    expect(quarantined[0]!.source).toBe(`cometd:${channel}`);
    // The reason is the decoding failure, not the shape error of the stand-in message.
    expect(quarantined[0]!.reason).toMatch(/^event undecodable: Avro payload undecodable with schema/);
    const recorded = (await gaps()).filter((g) => g.reason.startsWith('event undecodable: Avro payload undecodable with schema'));
    expect(recorded).toEqual([expect.objectContaining({ channel, lost_replay_id: expect.stringMatching(/^pubsub:/) })]);
    // The change the damaged event carried is not lost: the gap's reconcile reads the record.
    await unsubscribed(bad!.email, list.id);
    // The checkpoint moved past the damaged event: once a later change is stored (the resume point is the id before
    // the last one stored), a restart does not deliver it again.
    const settled = person('undecodable-settled', list.id);
    await patchRecord(sandbox.sf, 'Contact', settled.id, { HasOptedOutOfEmail: true });
    await unsubscribed(settled.email, list.id);
    const countBeforeRestart = (await undecodableRows()).length;
    await sandbox.stopApp();
    await sandbox.startApp();
    await streamConnected();
    const after = person('undecodable-after', list.id);
    await patchRecord(sandbox.sf, 'Contact', after.id, { HasOptedOutOfEmail: true });
    await unsubscribed(after.email, list.id);
    expect(await undecodableRows()).toHaveLength(countBeforeRestart);
  }, 60_000);

  test('when the middleware restarts, then what changed while it was down is replayed from the stored id, without a reconcile', async () => {
    const list = sandbox.ac.createList('Restart');
    const before = person('before-restart', list.id);
    const during = person('during-restart', list.id);
    await patchRecord(sandbox.sf, 'Contact', before.id, { HasOptedOutOfEmail: true });
    await unsubscribed(before.email, list.id);
    const gapsBefore = (await gaps()).length;
    await sandbox.stopApp();
    await patchRecord(sandbox.sf, 'Contact', during.id, { HasOptedOutOfEmail: true });
    await sandbox.startApp();
    await unsubscribed(during.email, list.id);
    expect((await gaps()).length).toBe(gapsBefore);
    expect((await sandbox.app!.status()).stream?.channels[channel]?.subscribedFrom).toMatch(/^pubsub:/);
  }, 45_000);

  test('when the stored replay id expired during downtime, then the change is applied by reconcile and both gap windows are recorded', async () => {
    const list = sandbox.ac.createList('Expired');
    const before = person('before-expiry', list.id);
    const during = person('during-expiry', list.id);
    await patchRecord(sandbox.sf, 'Contact', before.id, { HasOptedOutOfEmail: true });
    await unsubscribed(before.email, list.id);
    await sandbox.stopApp();
    await patchRecord(sandbox.sf, 'Contact', during.id, { HasOptedOutOfEmail: true });
    // Past the 72 h retention: the stored replay id names an event the bus no longer has.
    sandbox.sf.purgeEvents();
    await sandbox.startApp();
    await unsubscribed(during.email, list.id);
    const recorded = await waitFor(async () => {
      const all = await gaps();
      return all.some((g) => g.reason.startsWith('events published before')) ? all : undefined;
    }, { what: 'the window until the fallback stream went live' });
    const expired = recorded.filter((g) => g.reason === 'replay id expired');
    expect(expired).toEqual([expect.objectContaining({ channel })]);
    expect(expired[0]!.lost_replay_id).toMatch(/^pubsub:/);
    await streamConnected();
    // The stream goes on after the fallback.
    const after = person('after-expiry', list.id);
    await patchRecord(sandbox.sf, 'Contact', after.id, { HasOptedOutOfEmail: true });
    await unsubscribed(after.email, list.id);
  }, 60_000);
});
