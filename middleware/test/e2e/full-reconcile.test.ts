// The full reconciliation against both emulators over loopback and a real store: drift planted before the
// middleware started (so that neither the stream nor the baseline poll saw it) is found in both directions, a dry
// run changes nothing, the real run fixes it through the ordinary workers with the audit reason "reconciliation",
// states the rules accept are left alone and their known change times are not re-dated, and dead letters are
// re-judged.
import { startSandbox, testSecrets, type Sandbox } from '../support/sandbox-harness';
import { isOptedOut, readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

describe('full reconciliation on pglite', () => {
  let sandbox: Sandbox;
  let news: { id: string };
  const ids: Record<string, string> = {};
  const hourAgo = new Date(Date.now() - 3600_000);
  const tenMinutesAgo = new Date(Date.now() - 600_000);

  function contact(email: string, optedOut: boolean): string {
    return String(sandbox.sf.insert('Contact', { LastName: 'Person', Email: email, HasOptedOutOfEmail: optedOut }).Id);
  }

  beforeAll(async () => {
    sandbox = await startSandbox('pglite', { env: { RECONCILE_CRON: 'off' } });
    news = sandbox.ac.createList('News');
    // AC's side first, an hour back: these subscribes and unsubscribes are older than anything in Salesforce.
    sandbox.acClock.offsetMs = -3600_000;
    sandbox.ac.createContact('sf-drift@example.com', { lists: { [news.id]: 1 } });
    sandbox.ac.createContact('ac-drift@example.com', { lists: { [news.id]: 2 } });
    sandbox.ac.createContact('in-step@example.com', { lists: { [news.id]: 1 } });
    sandbox.ac.createContact('newer-sf-optin@example.com', { lists: { [news.id]: 2 } });
    sandbox.acClock.offsetMs = 0;
    // Subscribed now, after an opt-out Salesforce made an hour ago (known to the middleware, see below): AC wins.
    sandbox.ac.createContact('newer-ac-subscribe@example.com', { lists: { [news.id]: 1 } });
    ids.sfDrift = contact('sf-drift@example.com', true);
    ids.acDrift = contact('ac-drift@example.com', false);
    ids.inStep = contact('in-step@example.com', false);
    ids.newerSfOptIn = contact('newer-sf-optin@example.com', false);
    ids.newerAcSubscribe = contact('newer-ac-subscribe@example.com', true);
    await sandbox.startApp({ sfBulkQueryPollMs: 20 });
    await readyApp(sandbox);
    const { store } = sandbox.app!;
    // What the stream had told the middleware before: an opt-in ten minutes ago (after AC's unsubscribe an hour
    // ago) and an opt-out an hour ago (before AC's subscribe now).
    await store.links.recordObservations([
      { recordId: ids.newerSfOptIn!, objectName: 'Contact', email: 'newer-sf-optin@example.com', optedOut: false, changedAt: tenMinutesAgo },
      { recordId: ids.newerAcSubscribe!, objectName: 'Contact', email: 'newer-ac-subscribe@example.com', optedOut: true, changedAt: hourAgo },
    ]);
    const letter = (subject: string) =>
      store.db.query(`INSERT INTO dead_letters (job_id, kind, subject, payload, attempts, last_error, failed_at) VALUES (1, 'push-email', $1, $2, 8, 'permanent: test', now())`, [
        subject,
        JSON.stringify({ email: subject, optOutPending: true, optOutAt: hourAgo.toISOString(), latestOptedOut: true, latestChangedAt: hourAgo.toISOString(), recordIds: [], sources: ['CDC'] }),
      ]);
    await letter('sf-drift@example.com');
    await letter('in-step@example.com');
    await letter('nobody@example.com');
  }, 60_000);
  afterAll(async () => {
    await sandbox?.close();
  });

  const knownTimes = async () => {
    const known = await sandbox.app!.store.links.lastObserved([ids.newerSfOptIn!, ids.newerAcSubscribe!]);
    return [known.get(ids.newerSfOptIn!)?.changedAt?.toISOString(), known.get(ids.newerAcSubscribe!)?.changedAt?.toISOString()];
  };

  test('when run dry, then the drift of both directions is reported and nothing changes', async () => {
    const report = await sandbox.app!.fullReconciler.run({ dryRun: true });
    expect(report.drift).toEqual({ sfToAc: 1, acToSf: 1 });
    expect(report.sample.map((s) => `${s.direction} ${s.email}`).sort()).toEqual(['ac-to-sf ac-drift@example.com', 'sf-to-ac sf-drift@example.com']);
    expect(report.queued).toBe(0);
    expect(report.deadLetters).toEqual({ examined: 3, superseded: 1, inStep: 1, requeued: 1 });
    expect(sandbox.ac.contactByEmail('sf-drift@example.com')?.lists[news.id]).toBe(1);
    expect(isOptedOut(sandbox, 'Contact', ids.acDrift!)).toBe(false);
    const queued = await sandbox.app!.store.jobs.counts();
    expect(queued.filter((q) => q.state !== 'dead')).toEqual([]);
    expect(queued.find((q) => q.state === 'dead')?.n).toBe(3);
    expect((await sandbox.app!.store.audit.historyForEmail('sf-drift@example.com')).filter((a) => a.reason === 'reconciliation')).toEqual([]);
    expect(await knownTimes()).toEqual([tenMinutesAgo.toISOString(), hourAgo.toISOString()]);
  });

  test('when run for real, then both drifts are fixed through the workers, audited as reconciliation, and nothing else moves', async () => {
    const report = await sandbox.app!.fullReconciler.run({ dryRun: false });
    expect(report.drift).toEqual({ sfToAc: 1, acToSf: 1 });
    expect(report.queued).toBe(2);
    expect(report.compared).toBe(5);
    await waitFor(() => sandbox.ac.contactByEmail('sf-drift@example.com')?.lists[news.id] === 2, { what: 'R1 applied in AC' });
    await waitFor(() => isOptedOut(sandbox, 'Contact', ids.acDrift!), { what: 'R3 applied in Salesforce' });
    for (const email of ['sf-drift@example.com', 'ac-drift@example.com']) {
      const audit = await sandbox.app!.store.audit.historyForEmail(email);
      expect(audit.some((a) => a.decision === 'reconcile-queued' && a.reason === 'reconciliation')).toBe(true);
    }
    // Accepted by the rules: a Salesforce opt-in newer than AC's unsubscribe, an AC subscribe newer than the opt-out.
    expect(isOptedOut(sandbox, 'Contact', ids.newerSfOptIn!)).toBe(false);
    expect(sandbox.ac.contactByEmail('newer-ac-subscribe@example.com')?.lists[news.id]).toBe(1);
    expect(isOptedOut(sandbox, 'Contact', ids.inStep!)).toBe(false);
    // A re-read records no change time for values that did not change.
    expect(await knownTimes()).toEqual([tenMinutesAgo.toISOString(), hourAgo.toISOString()]);
    // Dead letters: superseded by the fix, found in step, and the unknown one back in the queue.
    expect(report.deadLetters).toEqual({ examined: 3, superseded: 1, inStep: 1, requeued: 1 });
    expect(await sandbox.app!.store.jobs.listDeadLetters()).toEqual([]);
    const closed = await sandbox.app!.store.audit.historyForEmail('in-step@example.com');
    expect(closed.some((a) => a.decision === 'dead-letter-closed' && a.reason === 'reconciliation')).toBe(true);
    const status = await sandbox.app!.status();
    expect(status.reconciliation.last?.queued).toBe(2);
    const metrics = await sandbox.app!.metrics.registry.getSingleMetricAsString('optout_reconcile_drift_total');
    expect(metrics).toMatch(/direction="sf-to-ac",dry_run="false"} 1/);
  });

  test('when AC throttles and fails a page read, then the pass waits, asks again and finishes', async () => {
    sandbox.ac.setFault({ status: 429, count: 1, method: 'GET', pathPrefix: '/contacts', retryAfterSeconds: 1 });
    sandbox.ac.setFault({ status: 503, count: 1, method: 'GET', pathPrefix: '/contacts' });
    const from = sandbox.ac.requestLog.length;
    const report = await sandbox.app!.fullReconciler.run({ dryRun: true });
    expect(report.compared).toBe(5);
    // The pass's own page reads (all contacts, id order): those that met a fault were asked again until one answered.
    const pageReads = sandbox.ac.requestLog.slice(from).filter((r) => r.method === 'GET' && r.url.startsWith('/api/3/contacts?include=contactLists&orders'));
    expect(pageReads.filter((r) => r.faulted).length).toBe(report.acRequests - 1);
    expect(pageReads.at(-1)?.status).toBe(200);
    sandbox.ac.clearFaults();
  });

  test('when run again after the fixes, then it finds no drift', async () => {
    await waitFor(async () => (await sandbox.app!.store.jobs.counts()).every((q) => q.n === 0 || q.state === 'dead'), { what: 'queues empty' });
    const report = await sandbox.app!.fullReconciler.run({ dryRun: false });
    expect(report.drift).toEqual({ sfToAc: 0, acToSf: 0 });
    expect(report.queued).toBe(0);
  });

  test('when another instance is running a pass, then an admin asking here is refused with 409 and no second pass reads AC', async () => {
    const { store } = sandbox.app!;
    await store.db.query(`INSERT INTO leases (name, holder, expires_at) VALUES ('full-reconciliation', 'other-instance', now() + interval '1 minute')`);
    try {
      const from = sandbox.ac.requestLog.length;
      const response = await fetch(`${sandbox.app!.url}/admin/reconcile/full`, { method: 'POST', headers: { authorization: `Bearer ${testSecrets.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ dryRun: true }) });
      expect(response.status).toBe(409);
      expect(((await response.json()) as { error: string }).error).toContain('another instance');
      await expect(sandbox.app!.fullReconciler.run({ dryRun: true })).rejects.toThrow('another instance');
      expect(sandbox.ac.requestLog.slice(from).filter((r) => r.url.startsWith('/api/3/contacts?include=contactLists'))).toEqual([]);
    } finally {
      await store.db.query(`DELETE FROM leases WHERE name = 'full-reconciliation'`);
    }
  });

  test('when the middleware stops during a pass, then the pass ends at its next page and stop waits for it before the database closes', async () => {
    // AC answers the page read slowly: the pass is inside it when the stop comes.
    sandbox.ac.setFault({ latencyMs: 1500, count: 1, method: 'GET', pathPrefix: '/contacts' });
    const app = sandbox.app!;
    const from = sandbox.ac.requestLog.length;
    const run = app.fullReconciler.run({ dryRun: true });
    const outcome = run.then(() => 'finished', (error: unknown) => (error instanceof Error ? error.message : String(error)));
    await waitFor(() => sandbox.ac.requestLog.slice(from).some((r) => r.method === 'GET' && r.url.startsWith('/api/3/contacts?include=contactLists')) || undefined, { what: 'the pass reading ActiveCampaign' });
    const logged = sandbox.logLines.length;
    await sandbox.stopApp();
    expect(await outcome).toMatch(/stopped|finished/);
    expect(app.fullReconciler.state().running).toBe(false);
    // Nothing ran on a closed database.
    expect(sandbox.logLines.slice(logged).filter((l) => /closed|terminat|not open/i.test(l))).toEqual([]);
    sandbox.ac.clearFaults();
  });
});
