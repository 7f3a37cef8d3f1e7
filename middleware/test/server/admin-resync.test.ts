// Resync through the admin API against the real middleware: a record or an email whose opt-out never reached AC
// (here: a change the stream dropped as our own echo, R6) is read from Salesforce and brought in line.
import { engines } from '../support/test-databases';
import { startSandbox, testSecrets, type Sandbox } from '../support/sandbox-harness';
import { readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

describe.each(engines)('admin resync on %s', (engine) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox(engine);
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  /** An opted-out Contact whose opt-out AC never saw: written with the product's own client tag, so dropped. */
  async function unsyncedOptOut(email: string) {
    const { sf, ac } = sandbox;
    const list = ac.createList(`List for ${email}`);
    ac.createContact(email, { lists: { [list.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Resync', Email: email, HasOptedOutOfEmail: false }).Id);
    const echoesBefore = (await sandbox.app!.store.audit.latest(500, 'internal')).filter((a) => a.decision === 'drop-echo').length;
    sf.update('Contact', id, { HasOptedOutOfEmail: true }, { clientId: sandbox.config.salesforce.clientTag });
    await waitFor(async () => (await sandbox.app!.store.audit.latest(500, 'internal')).filter((a) => a.decision === 'drop-echo').length > echoesBefore, { what: 'echo dropped' });
    expect(Number(ac.contactByEmail(email)?.lists[list.id])).toBe(1);
    return { id, listId: list.id };
  }

  const post = (path: string, body: unknown) =>
    fetch(sandbox.app!.url + path, { method: 'POST', headers: { authorization: `Bearer ${testSecrets.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  test('when a record is resynced, then its current opt-out reaches ActiveCampaign', async () => {
    const { id, listId } = await unsyncedOptOut('resync.record@example.com');
    const response = await post('/admin/resync-record', { recordId: id });
    expect(response.status).toBe(202);
    await waitFor(() => Number(sandbox.ac.contactByEmail('resync.record@example.com')?.lists[listId]) === 2, { what: 'unsubscribed after resync' });
  });

  test('when an email is resynced, then every record with it is read and the opt-out reaches ActiveCampaign', async () => {
    const { listId } = await unsyncedOptOut('resync.email@example.com');
    const response = await post('/admin/resync', { email: 'RESYNC.EMAIL@example.com' });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ queued: true, records: 1 });
    await waitFor(() => Number(sandbox.ac.contactByEmail('resync.email@example.com')?.lists[listId]) === 2, { what: 'unsubscribed after resync' });
  });

  test('when the org\'s daily API limit refuses the read, then the admin is told so (503, Retry-After, the Salesforce code) instead of an internal error', async () => {
    // The earlier tests' work finishes first: a write refused at the limit pauses Salesforce writes for minutes.
    await waitFor(async () => (await sandbox.app!.store.jobs.counts()).every((c) => c.n === 0 || c.state === 'dead'), { what: 'queue idle before the limit' });
    sandbox.sf.setApiLimit({ max: sandbox.sf.apiUsage().used, enforce: true });
    try {
      for (const [path, body] of [['/admin/resync', { email: 'limited.resync@example.com' }], ['/admin/resync-record', { recordId: '003000000000000AAA' }]] as const) {
        const response = await post(path, body);
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
        const answer = (await response.json()) as { queued: boolean; error: string };
        expect(answer.queued).toBe(false);
        expect(answer.error).toContain('REQUEST_LIMIT_EXCEEDED');
        expect(answer.error).not.toContain('limited.resync@example.com');
      }
    } finally {
      sandbox.sf.setApiLimit({ max: 15000, enforce: false });
    }
  });

  test('when the record does not exist, then the answer is 404 and nothing is queued', async () => {
    const response = await post('/admin/resync-record', { recordId: '003000000000000AAA' });
    expect(response.status).toBe(404);
  });

  test('when an unchanged opt-in is resynced, then an AC unsubscribe-all made a moment before the resync still opts the record out (a resync is no change)', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Resync recency');
    ac.createContact('recency@example.com', { lists: { [list.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Recency', Email: 'recency@example.com', HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    // The resync reads the unchanged opt-in ...
    expect((await post('/admin/resync', { email: 'recency@example.com' })).status).toBe(202);
    // ... and the person's unsubscribe-all in AC happened a second before it (AC's clock says so).
    sandbox.acClock.offsetMs = -1200;
    try {
      ac.unsubscribe('recency@example.com', 'all');
      await waitFor(() => sf.get('Contact', id)?.HasOptedOutOfEmail === true, { what: 'R3 opted the record out', timeoutMs: 20_000 });
    } finally {
      sandbox.acClock.offsetMs = 0;
    }
    // The audit is committed just after the Salesforce write.
    const written = await waitFor(async () => {
      const history = await sandbox.app!.store.audit.historyForEmail('recency@example.com');
      const updates = history.filter((h) => h.decision === 'update-salesforce');
      return updates.length > 0 ? updates : undefined;
    }, { what: 'the audit of the write' });
    expect(written.map((h) => h.reason)).toEqual([expect.stringMatching(/^R3/)]);
  }, 40_000);
});
