import { engines } from '../support/test-databases';
import { startSandbox, testSecrets, type Sandbox } from '../support/sandbox-harness';
import { patchRecord } from '../support/salesforce-user';
import { salesforceWriteCalls, activeCampaignWriteCalls, isOptedOut, readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

describe.each(engines)('ActiveCampaign -> Salesforce on %s', (engine) => {
  let sandbox: Sandbox;
  let news: { id: string };
  let offers: { id: string };

  beforeAll(async () => {
    sandbox = await startSandbox(engine);
    news = sandbox.ac.createList('News');
    offers = sandbox.ac.createList('Offers');
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  /** A person known to both systems, already in the poller's snapshot. */
  async function person(email: string, lists: Record<string, 0 | 1 | 2 | 3>, records: ('Contact' | 'Lead')[] = ['Contact']) {
    sandbox.ac.createContact(email, { lists });
    const ids = records.map((type) => ({ type, id: String(sandbox.sf.insert(type, { LastName: 'Person', ...(type === 'Lead' ? { Company: 'Co' } : {}), Email: email.toUpperCase(), HasOptedOutOfEmail: false }).Id) }));
    await sandbox.app!.pollNow();
    return ids;
  }

  test('when the contact unsubscribes from all lists, then the Contact and the Lead with that email are opted out', async () => {
    const [contact, lead] = await person('all@example.com', { [news.id]: 1, [offers.id]: 1 }, ['Contact', 'Lead']);
    sandbox.ac.unsubscribe('all@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact!.id) && isOptedOut(sandbox, 'Lead', lead!.id), { what: 'both records opted out' });
    const written = sandbox.sf.get('Contact', contact!.id);
    expect(written?.Opt_Out_Source__c).toBe('ActiveCampaign Unsubscribe');
    // The sync-state fields ride on the same write (issue 18, "the fields tell the truth").
    expect(written?.AC_Status__c).toBe('Unsubscribed');
    expect(written?.AC_Contact_Id__c).toBe(String(sandbox.ac.contactByEmail('all@example.com')!.id));
    expect(typeof written?.AC_Last_Synced__c).toBe('string');
  });

  // PostgreSQL only: the fault is a server terminating the connection (the chaos run's pg_terminate_backend).
  (engine === 'postgres' ? test : test.skip)('when the database connection drops while the audit of a Salesforce write is recorded, then the write is still audited', async () => {
    const [contact] = await person('dropped@example.com', { [news.id]: 1 });
    // The first audit of a Salesforce write terminates its own connection, once (a sequence outlives the rollback).
    await sandbox.app!.store.db.exec(`
      CREATE SEQUENCE audit_fault_once;
      CREATE FUNCTION audit_fault() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('audit_fault_once') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER audit_fault BEFORE INSERT ON audit_log FOR EACH ROW WHEN (NEW.decision = 'update-salesforce' AND NEW.email_norm = 'dropped@example.com') EXECUTE FUNCTION audit_fault();`);
    try {
      sandbox.ac.unsubscribe('dropped@example.com', 'all');
      await waitFor(() => isOptedOut(sandbox, 'Contact', contact!.id), { what: 'record opted out' });
      await waitFor(async () => (await sandbox.app!.store.audit.historyForEmail('dropped@example.com')).some((a) => a.decision === 'update-salesforce' && a.result === 'written'), { what: 'the write audited' });
      const faults = await sandbox.app!.store.db.query(`SELECT last_value, is_called FROM audit_fault_once`);
      expect(faults.rows[0]).toMatchObject({ is_called: true });
    } finally {
      await sandbox.app!.store.db.exec(`DROP TRIGGER audit_fault ON audit_log; DROP FUNCTION audit_fault(); DROP SEQUENCE audit_fault_once;`);
    }
  });

  test('when the contact unsubscribes from one of two lists, then nothing changes in Salesforce', async () => {
    const [contact] = await person('one@example.com', { [news.id]: 1, [offers.id]: 1 });
    const writesBefore = salesforceWriteCalls(sandbox);
    sandbox.ac.unsubscribe('one@example.com', news.id);
    await sandbox.ac.webhooksIdle();
    await waitFor(async () => (await sandbox.app!.store.webhookInbox.pending(10)).length === 0, { what: 'webhook processed' });
    await sandbox.app!.pollNow();
    expect(isOptedOut(sandbox, 'Contact', contact!.id)).toBe(false);
    expect(salesforceWriteCalls(sandbox)).toBe(writesBefore);
  });

  test('when the contact hard-bounces, then the record is opted out and flagged as bounced', async () => {
    const [contact] = await person('bounce@example.com', { [news.id]: 1 });
    sandbox.ac.hardBounce('bounce@example.com');
    await waitFor(() => sandbox.sf.get('Contact', contact!.id)?.AC_Hard_Bounced__c === true, { what: 'bounce flag' });
    expect(isOptedOut(sandbox, 'Contact', contact!.id)).toBe(true);
    expect(sandbox.sf.get('Contact', contact!.id)?.Opt_Out_Source__c).toBe('ActiveCampaign Bounce');
  });

  test('when an unsubscribed contact subscribes again to one list, then Email Opt Out is unchecked', async () => {
    const [contact] = await person('back@example.com', { [news.id]: 1 });
    sandbox.ac.unsubscribe('back@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact!.id), { what: 'opted out' });
    sandbox.ac.subscribe('back@example.com', offers.id);
    await waitFor(() => !isOptedOut(sandbox, 'Contact', contact!.id), { what: 'opt-out unchecked' });
  });

  test('when a re-subscribe is older than the Salesforce opt-out, then nothing changes', async () => {
    const [contact] = await person('older@example.com', { [news.id]: 2 });
    await patchRecord(sandbox.sf, 'Contact', contact!.id, { HasOptedOutOfEmail: true });
    await waitFor(async () => (await sandbox.app!.store.audit.historyForEmail('older@example.com')).some((a) => a.direction === 'sf_to_ac'), { what: 'opt-out seen on the stream' });
    sandbox.acClock.offsetMs = -3600_000;
    try {
      sandbox.ac.subscribe('older@example.com', news.id);
      await waitFor(async () => (await sandbox.app!.store.audit.historyForEmail('older@example.com')).some((a) => a.reason.startsWith('R5 refused')), { what: 'R5 refused' });
    } finally {
      sandbox.acClock.offsetMs = 0;
    }
    expect(isOptedOut(sandbox, 'Contact', contact!.id)).toBe(true);
  });

  test('when a webhook and a poll see the same change, then Salesforce is written once', async () => {
    const [contact] = await person('twice@example.com', { [news.id]: 1 });
    const writesBefore = salesforceWriteCalls(sandbox);
    sandbox.ac.unsubscribe('twice@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact!.id), { what: 'opted out via webhook' });
    await sandbox.app!.pollNow();
    await sandbox.app!.pollNow();
    expect(salesforceWriteCalls(sandbox)).toBe(writesBefore + 1);
    const writes = (await sandbox.app!.store.audit.historyForEmail('twice@example.com')).filter((a) => a.decision === 'update-salesforce');
    expect(writes).toHaveLength(1);
  });

  test('when a webhook carries a wrong secret, then it gets 401 and nothing is stored', async () => {
    const response = await fetch(`${sandbox.app!.url}/webhooks/activecampaign/not-the-secret`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'type=unsubscribe&date_time=2026-11-23T10:00:00-05:00&contact[id]=1&contact[email]=x@example.com',
    });
    expect(response.status).toBe(401);
    expect(await response.text()).not.toContain(testSecrets.webhookSecret);
    expect(await sandbox.app!.store.webhookInbox.pending(100)).toEqual([]);
  });

  test('when a malformed webhook arrives, then it gets 400, is quarantined, and the next one is processed', async () => {
    const response = await fetch(`${sandbox.app!.url}/webhooks/activecampaign/${testSecrets.webhookSecret}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'type=unsubscribe&contact[id]=abc',
    });
    expect(response.status).toBe(400);
    const [quarantined] = await sandbox.app!.store.quarantine.list(1);
    expect(quarantined?.reason).toMatch(/date_time|contact/);
    const [contact] = await person('after-bad@example.com', { [news.id]: 1 });
    sandbox.ac.unsubscribe('after-bad@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact!.id), { what: 'next webhook processed' });
  });

  test('when Salesforce refuses one record for a while, then the write is retried and succeeds', async () => {
    const [contact] = await person('locked@example.com', { [news.id]: 1 });
    sandbox.sf.failNextWrites(contact!.id, 'UNABLE_TO_LOCK_ROW', 2);
    sandbox.ac.unsubscribe('locked@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact!.id), { what: 'written after retries' });
    const history = await sandbox.app!.store.audit.historyForEmail('locked@example.com');
    expect(history.filter((a) => a.result.startsWith('failed: UNABLE_TO_LOCK_ROW'))).toHaveLength(2);
  });

  test('when a record stays locked for longer than the retry budget, then the opt-out waits instead of dying and is written once the lock is gone', async () => {
    const [contact] = await person('stuck@example.com', { [news.id]: 1 });
    sandbox.sf.failNextWrites(contact!.id, 'UNABLE_TO_LOCK_ROW', sandbox.config.jobs.maxAttempts + 2);
    sandbox.ac.unsubscribe('stuck@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact!.id), { what: 'written once the lock is gone', timeoutMs: 30_000 });
    expect((await sandbox.app!.store.jobs.listDeadLetters()).filter((d) => d.subject === 'stuck@example.com')).toEqual([]);
  });

  test('when Salesforce refuses a record for good (a validation rule), then the job is dead-lettered with the reason at once and can be retried from the admin API', async () => {
    const [contact] = await person('dead@example.com', { [news.id]: 1 });
    sandbox.sf.failNextWrites(contact!.id, 'FIELD_CUSTOM_VALIDATION_EXCEPTION', 1);
    sandbox.ac.unsubscribe('dead@example.com', 'all');
    const letter = await waitFor(async () => (await sandbox.app!.store.jobs.listDeadLetters()).find((d) => d.subject === 'dead@example.com'), { what: 'dead letter' });
    expect(letter.lastError).toContain('permanent');
    expect(letter.lastError).toContain('FIELD_CUSTOM_VALIDATION_EXCEPTION');
    expect(isOptedOut(sandbox, 'Contact', contact!.id)).toBe(false);
    const retry = await fetch(`${sandbox.app!.url}/admin/dead-letters/${letter.id}/retry`, { method: 'POST', headers: { authorization: `Bearer ${testSecrets.adminToken}` } });
    expect(retry.status).toBe(202);
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact!.id), { what: 'written after the dead letter was retried' });
  });

  test('when the push path runs too, then a full round trip settles and further polls write nothing', async () => {
    const [contact] = await person('round@example.com', { [news.id]: 1, [offers.id]: 1 }, ['Contact', 'Lead']);
    await patchRecord(sandbox.sf, 'Contact', contact!.id, { HasOptedOutOfEmail: true });
    await waitFor(() => Object.values(sandbox.ac.contactByEmail('round@example.com')!.lists).every((s) => Number(s) === 2), { what: 'AC unsubscribed' });
    sandbox.ac.subscribe('round@example.com', news.id);
    await waitFor(() => !isOptedOut(sandbox, 'Contact', contact!.id), { what: 'unchecked after re-subscribe' });
    await waitFor(async () => (await sandbox.app!.store.jobs.counts()).length === 0, { what: 'queues empty' });
    const sfWrites = salesforceWriteCalls(sandbox);
    const acWrites = activeCampaignWriteCalls(sandbox);
    await sandbox.app!.pollNow();
    await sandbox.app!.pollNow();
    await waitFor(async () => (await sandbox.app!.store.jobs.counts()).length === 0, { what: 'queues empty' });
    expect(salesforceWriteCalls(sandbox)).toBe(sfWrites);
    expect(activeCampaignWriteCalls(sandbox)).toBe(acWrites);
    expect(sandbox.ac.contactByEmail('round@example.com')!.lists[news.id]).toBe(1);
  });
});
