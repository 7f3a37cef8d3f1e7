// Issue 3 item 7: ActiveCampaign answering 429 and 5xx for a while, then success; a malformed streaming event is
// quarantined and the next one is processed. Event mode RELAY, the package's default (force-app's settings
// record): the middleware subscribes to /event/OptOut_Change__e only. The Apex relay does not run in the
// emulator, so the tests publish OptOut_Change__e themselves, as the relay trigger would.
import { engines } from '../support/test-databases';
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

describe.each(engines)('faults and bad input on %s', (engine) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox(engine, {
      sf: { settings: { Event_Mode__c: 'RELAY' } },
      env: { JOB_MAX_ATTEMPTS: '10', JOB_BACKOFF_BASE_MS: '200' },
    });
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  /** What the Apex relay publishes for one opt-out change (force-app OptOutChangeRelay). */
  function relayEvent(recordId: string, email: string, optedOut: unknown): Record<string, unknown> {
    return { Record_Id__c: recordId, Object_Name__c: 'Contact', Email__c: email, Opted_Out__c: optedOut, Changed_At__c: new Date().toISOString(), Changed_By__c: sandbox.sf.users.admin.id, Change_Origin__c: '', Source__c: 'CDC_RELAY' };
  }

  async function metricValue(name: string, labels = ''): Promise<number> {
    const text = await sandbox.app!.metrics.registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
    return line === undefined ? 0 : Number(line.split(' ')[1]);
  }

  test('when ActiveCampaign answers 429 and then 5xx for a while, then every opt-out is applied after back-off and nothing is dead-lettered', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Weather');
    const people = Array.from({ length: 12 }, (_, i) => {
      const email = `storm${i}@example.com`;
      ac.createContact(email, { lists: { [list.id]: 1 } });
      return { email, id: String(sf.insert('Contact', { LastName: `Storm${i}`, Email: email, HasOptedOutOfEmail: true }).Id) };
    });
    const failedBefore = await metricValue('optout_jobs_failed_total', '{kind="push-email"}');
    const started = Date.now();
    // First the account limit (429 with Retry-After), then a broken backend (502), then a good day again.
    ac.setFault({ status: 429, retryAfterSeconds: 1, durationMs: 1500 });
    ac.setFault({ status: 502, durationMs: 3000 });
    for (const p of people) sf.publishPlatformEvent('OptOut_Change__e', relayEvent(p.id, p.email, true), sf.users.admin.id);

    await waitFor(() => people.every((p) => Number(ac.contactByEmail(p.email)?.lists[list.id]) === 2), { what: 'every opt-out applied', timeoutMs: 30_000, intervalMs: 100 });
    await waitFor(async () => (await sandbox.app!.store.jobs.counts()).every((c) => c.kind !== 'push-email' || c.state === 'dead'), { what: 'push jobs done' });
    const statuses = ac.requestLog.filter((r) => Date.parse(r.at) >= started).map((r) => r.status);
    expect(statuses).toContain(429);
    expect(statuses).toContain(502);
    // Retried, not given up: failed attempts counted, throttling seen by the client, no dead letter.
    expect(await metricValue('optout_jobs_failed_total', '{kind="push-email"}')).toBeGreaterThan(failedBefore);
    expect(await metricValue('optout_ac_throttled_total')).toBeGreaterThan(0);
    expect((await sandbox.app!.store.jobs.listDeadLetters()).filter((d) => d.subject.startsWith('storm'))).toEqual([]);
    // The first success came no earlier than the 429's Retry-After allowed.
    const firstPost = ac.requestLog.find((r) => Date.parse(r.at) >= started && r.method === 'POST' && r.path === '/api/3/contactLists' && r.status === 200);
    expect(Date.parse(firstPost!.at) - started).toBeGreaterThanOrEqual(1000);
    for (const p of people) {
      const history = await sandbox.app!.store.audit.historyForEmail(p.email);
      expect(history.filter((h) => h.decision === 'unsubscribe-list' && h.result === 'unsubscribed')).toHaveLength(1);
    }
  }, 45_000);

  test('when a relay event carries a wrong-typed field, then it is quarantined naming the field and the next event is processed', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Typed');
    ac.createContact('typed@example.com', { lists: { [list.id]: 1 } });
    const contact = String(sf.insert('Contact', { LastName: 'Typed', Email: 'typed@example.com', HasOptedOutOfEmail: true }).Id);

    sf.publishPlatformEvent('OptOut_Change__e', relayEvent(contact, 'typed@example.com', 'yes'), sf.users.admin.id);
    const quarantined = await waitFor(async () => (await sandbox.app!.store.quarantine.list(20)).find((q) => q.reason.includes('Opted_Out__c')), { what: 'quarantined event' });
    expect(quarantined.reason).toContain('data.payload.Opted_Out__c');
    expect(Number(ac.contactByEmail('typed@example.com')?.lists[list.id])).toBe(1);

    sf.publishPlatformEvent('OptOut_Change__e', relayEvent(contact, 'typed@example.com', true), sf.users.admin.id);
    await waitFor(() => Number(ac.contactByEmail('typed@example.com')?.lists[list.id]) === 2, { what: 'the next valid event applied' });
    const stream = (await sandbox.app!.status()).stream;
    expect(stream?.connected).toBe(true);
  });

  test('when an event with Source GAP claims an opt-out the record does not hold, then the record decides and nobody is unsubscribed', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('GapClaim');
    ac.createContact('gap-claim@example.com', { lists: { [list.id]: 1 } });
    const contact = String(sf.insert('Contact', { LastName: 'GapClaim', Email: 'gap-claim@example.com', HasOptedOutOfEmail: false }).Id);
    // Anyone who may create the event can publish one (Modify All Data, a Flow, anonymous Apex): it rings the bell.
    sf.publishPlatformEvent('OptOut_Change__e', { ...relayEvent(contact, 'gap-claim@example.com', true), Source__c: 'GAP' }, sf.users.admin.id);
    // A real opt-out published after it: events of one channel arrive in order, so once it is applied the first was handled.
    ac.createContact('gap-sentinel@example.com', { lists: { [list.id]: 1 } });
    const sentinel = String(sf.insert('Contact', { LastName: 'Sentinel', Email: 'gap-sentinel@example.com', HasOptedOutOfEmail: true }).Id);
    sf.publishPlatformEvent('OptOut_Change__e', relayEvent(sentinel, 'gap-sentinel@example.com', true), sf.users.admin.id);
    await waitFor(() => Number(ac.contactByEmail('gap-sentinel@example.com')?.lists[list.id]) === 2, { what: 'the event after it applied' });
    await waitFor(async () => (await sandbox.app!.store.jobs.counts()).every((c) => c.kind !== 'push-email' || c.n === 0 || c.state === 'dead'), { what: 'push jobs done' });
    expect(Number(ac.contactByEmail('gap-claim@example.com')?.lists[list.id])).toBe(1);
    const history = await sandbox.app!.store.audit.historyForEmail('gap-claim@example.com');
    expect(history.filter((h) => h.decision === 'unsubscribe-list')).toEqual([]);
  });
});
