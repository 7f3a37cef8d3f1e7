// What a real org does to single records: converted leads refuse updates, validation rules, required fields of a
// Flow, locks, deletions and sharing make one record of a Collections call fail while the others are written.
import { engines } from '../support/test-databases';
import { startSandbox, testSecrets, type Sandbox } from '../support/sandbox-harness';
import { isOptedOut, readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

describe.each(engines)('a real org refusing single records, on %s', (engine) => {
  let sandbox: Sandbox;
  let news: { id: string };

  beforeAll(async () => {
    sandbox = await startSandbox(engine);
    news = sandbox.ac.createList('News');
    await sandbox.startApp({ sfLimitPauseMs: 300 });
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  async function person(email: string): Promise<{ contact: string; lead: string }> {
    sandbox.ac.createContact(email, { lists: { [news.id]: 1 } });
    const contact = String(sandbox.sf.insert('Contact', { LastName: 'Person', Email: email, HasOptedOutOfEmail: false }).Id);
    const lead = String(sandbox.sf.insert('Lead', { LastName: 'Person', Company: 'Co', Email: email, HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    return { contact, lead };
  }

  const history = (email: string) => sandbox.app!.store.audit.historyForEmail(email);
  const jobsOf = async (email: string) => (await sandbox.app!.store.db.query(`SELECT id FROM jobs WHERE subject = $1`, [email])).rows;
  const lettersOf = async (email: string) => (await sandbox.app!.store.jobs.listDeadLetters()).filter((d) => d.subject === email);

  test('when a Lead of the email was converted, then the Contact is opted out, the Lead is never written and the audit says it was skipped', async () => {
    const { contact, lead } = await person('converted@example.com');
    sandbox.sf.convertLead(lead);
    const leadPatches = () => sandbox.sf.requestLog.filter((r) => r.method === 'PATCH' && r.path.includes(lead)).length;
    sandbox.ac.unsubscribe('converted@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact), { what: 'Contact opted out' });
    await waitFor(async () => (await jobsOf('converted@example.com')).length === 0, { what: 'job done' });
    expect(isOptedOut(sandbox, 'Lead', lead)).toBe(false);
    expect(leadPatches()).toBe(0);
    const skipped = (await history('converted@example.com')).find((a) => a.recordId === lead);
    expect(skipped).toMatchObject({ decision: 'skip' });
    expect(skipped?.reason).toMatch(/converted/i);
    expect(await lettersOf('converted@example.com')).toEqual([]);
  });

  test('when a Lead is converted between the read and the write, then Salesforce refuses it and the audit says it was skipped, without a retry', async () => {
    const { contact, lead } = await person('converted-late@example.com');
    sandbox.sf.beforeNextRequest(({ method, path }) => method === 'PATCH' && path.includes('/composite/sobjects'), () => {
      sandbox.sf.convertLead(lead);
    });
    sandbox.ac.unsubscribe('converted-late@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact), { what: 'Contact opted out' });
    await waitFor(async () => (await jobsOf('converted-late@example.com')).length === 0, { what: 'job done' });
    const audits = (await history('converted-late@example.com')).filter((a) => a.recordId === lead);
    expect(audits).toHaveLength(1);
    expect(audits[0]?.result).toMatch(/CANNOT_UPDATE_CONVERTED_LEAD/);
    expect(audits[0]?.decision).toBe('skip');
    expect(await lettersOf('converted-late@example.com')).toEqual([]);
  });

  test('when a validation rule refuses the Lead, then the Contact is written, the job completes and the Lead alone is dead-lettered without personal data', async () => {
    const { contact, lead } = await person('validated@example.com');
    sandbox.sf.setRecordFault(lead, { kind: 'validation-rule', message: 'Leads of validated@example.com (+1 555 0100) cannot change their opt-out' });
    sandbox.ac.unsubscribe('validated@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact), { what: 'Contact opted out' });
    const [letter] = await waitFor(async () => {
      const letters = await lettersOf('validated@example.com');
      return letters.length > 0 ? letters : undefined;
    }, { what: 'dead letter of the Lead' });
    expect(letter?.lastError).toContain(lead);
    expect(letter?.lastError).toContain('FIELD_CUSTOM_VALIDATION_EXCEPTION');
    expect(letter?.lastError).not.toContain('validated@example.com');
    expect(letter?.lastError).not.toContain('555 0100');
    await waitFor(async () => (await jobsOf('validated@example.com')).length === 0, { what: 'job done' });
    const failed = (await history('validated@example.com')).filter((a) => a.recordId === lead && a.result.startsWith('failed'));
    expect(failed).toHaveLength(1);
    expect(failed[0]?.result).not.toContain('validated@example.com');
    expect(isOptedOut(sandbox, 'Lead', lead)).toBe(false);

    // Once the org's admin relaxes the rule, retrying the letter brings the Lead in line and rewrites nothing else.
    sandbox.sf.setRecordFault(lead, null);
    const retry = await fetch(`${sandbox.app!.url}/admin/dead-letters/${letter!.id}/retry`, { method: 'POST', headers: { authorization: `Bearer ${testSecrets.adminToken}` } });
    expect(retry.status).toBe(202);
    // The audit is recorded just after the write: wait for it, not for the record.
    await waitFor(async () => (await history('validated@example.com')).some((a) => a.recordId === lead && a.result === 'written'), { what: 'Lead written after the retry' });
    expect(isOptedOut(sandbox, 'Lead', lead)).toBe(true);
    const written = (await history('validated@example.com')).filter((a) => a.result === 'written');
    expect(written.map((a) => a.recordId).sort()).toEqual([contact, lead].sort());
  });

  test('when a trigger names the person in its refusal, then neither the dead letter nor the audit nor the log carries the name or the address', async () => {
    // Apex addError() texts are written by the org's developers and may name the record: Salesforce passes them on
    // as FIELD_CUSTOM_VALIDATION_EXCEPTION with the text as it is, without quotes.
    const email = 'hedy.lamarr@example.com';
    sandbox.ac.createContact(email, { lists: { [news.id]: 1 } });
    const contact = String(sandbox.sf.insert('Contact', { FirstName: 'Hedwig', LastName: 'Kiesler', Email: email, HasOptedOutOfEmail: false }).Id);
    const lead = String(sandbox.sf.insert('Lead', { FirstName: 'Hedwig', LastName: 'Kiesler', Company: 'Co', Email: email, HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    sandbox.sf.setRecordFault(lead, { kind: 'validation-rule', message: 'Hedwig Kiesler (hedy.lamarr) is a key account: ask Kiesler\'s owner before opting out' });
    const logFrom = sandbox.logLines.length;
    sandbox.ac.unsubscribe(email, 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact), { what: 'Contact opted out' });
    const [letter] = await waitFor(async () => {
      const letters = await lettersOf(email);
      return letters.length > 0 ? letters : undefined;
    }, { what: 'dead letter of the Lead' });
    expect(letter?.lastError).toContain('FIELD_CUSTOM_VALIDATION_EXCEPTION');
    expect(letter?.lastError).toContain('is a key account');
    const audits = (await history(email)).filter((a) => a.recordId === lead);
    expect(audits.length).toBeGreaterThan(0);
    for (const text of [letter!.lastError, ...audits.map((a) => a.result), sandbox.logLines.slice(logFrom).join('')]) {
      expect(text).not.toMatch(/hedwig|kiesler|hedy|lamarr/i);
    }
  });

  test('when a validation rule refuses the Contact\'s opt-in (a re-subscribe, written one record a call), then the Lead is opted in and the Contact alone is dead-lettered with the Salesforce code', async () => {
    const email = 'resubscribed-rule@example.com';
    const { contact, lead } = await person(email);
    sandbox.ac.unsubscribe(email, 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact) && isOptedOut(sandbox, 'Lead', lead), { what: 'both opted out' });
    await waitFor(async () => (await jobsOf(email)).length === 0, { what: 'opt-out job done' });
    sandbox.sf.setRecordFault(contact, { kind: 'validation-rule', message: 'Opted-out Contacts stay opted out' });
    sandbox.ac.subscribe(email, news.id);
    await waitFor(() => !isOptedOut(sandbox, 'Lead', lead), { what: 'Lead opted in' });
    const letters = await waitFor(async () => {
      const found = await lettersOf(email);
      return found.length > 0 ? found : undefined;
    }, { what: 'dead letter of the Contact', timeoutMs: 20_000 });
    expect(letters).toHaveLength(1);
    expect(letters[0]?.lastError).toContain(`${contact}: FIELD_CUSTOM_VALIDATION_EXCEPTION: Opted-out Contacts stay opted out`);
    await waitFor(async () => (await jobsOf(email)).length === 0, { what: 'job done' });
    expect(isOptedOut(sandbox, 'Contact', contact)).toBe(true);
  });

  test.each([
    ['required-field', 'REQUIRED_FIELD_MISSING'],
    ['deleted', 'ENTITY_IS_DELETED'],
  ] as const)('when the org answers %s for the Contact, then the Lead is written and the Contact alone is dead-lettered with %s', async (kind, code) => {
    const email = `${kind}@example.com`;
    const { contact, lead } = await person(email);
    sandbox.sf.setRecordFault(contact, kind === 'required-field' ? { kind, field: 'Phone__c' } : { kind });
    sandbox.ac.unsubscribe(email, 'all');
    await waitFor(() => isOptedOut(sandbox, 'Lead', lead), { what: 'Lead opted out' });
    const letters = await waitFor(async () => {
      const found = await lettersOf(email);
      return found.length > 0 ? found : undefined;
    }, { what: 'dead letter of the Contact' });
    expect(letters).toHaveLength(1);
    expect(letters[0]?.lastError).toContain(`${contact}: ${code}`);
    await waitFor(async () => (await jobsOf(email)).length === 0, { what: 'job done' });
  });

  test('when the org answers read-only for the Contact (the integration user\'s access, not the record), then the Lead is written and the Contact\'s opt-out waits, undead, until access returns', async () => {
    const { contact, lead } = await person('read-only@example.com');
    sandbox.sf.setRecordFault(contact, { kind: 'read-only' });
    sandbox.ac.unsubscribe('read-only@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Lead', lead), { what: 'Lead opted out' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await lettersOf('read-only@example.com')).toEqual([]);
    expect((await jobsOf('read-only@example.com')).length).toBeGreaterThan(0);
    sandbox.sf.setRecordFault(contact, null);
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact), { what: 'Contact written once access returns', timeoutMs: 30_000 });
    expect(await lettersOf('read-only@example.com')).toEqual([]);
  }, 45_000);

  test('when the Contact is locked for a while, then the Lead is written at once and the Contact after the retries', async () => {
    const { contact, lead } = await person('locked-one@example.com');
    sandbox.sf.failNextWrites(contact, 'UNABLE_TO_LOCK_ROW', 2);
    sandbox.ac.unsubscribe('locked-one@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact), { what: 'Contact written after the lock' });
    expect(isOptedOut(sandbox, 'Lead', lead)).toBe(true);
    const leadWrites = (await history('locked-one@example.com')).filter((a) => a.recordId === lead && a.result === 'written');
    expect(leadWrites).toHaveLength(1);
    expect(await lettersOf('locked-one@example.com')).toEqual([]);
  });

  test('when the org daily API limit is reached, then Salesforce writes pause with the work still queued, the status says so, and resume when there is room', async () => {
    const { contact } = await person('limited@example.com');
    sandbox.sf.setApiLimit({ max: sandbox.sf.apiUsage().used, enforce: true });
    try {
      sandbox.ac.unsubscribe('limited@example.com', 'all');
      const status = await waitFor(async () => {
        const s = await sandbox.app!.status();
        return s.salesforceApi.writesPausedUntil !== null ? s : undefined;
      }, { what: 'writes paused' });
      expect(status.salesforceApi.used).toBe(status.salesforceApi.max);
      // The banner of the status page and /readyz (degraded, still 200) say why Salesforce writes wait.
      expect(status.health.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/Salesforce writes wait until .*daily API request limit/)]));
      // (The pause here is 300 ms, renewed by each refused try: asked until it is caught within one.)
      const ready = await waitFor(async () => {
        const res = await fetch(`${sandbox.app!.url}/readyz`);
        const body = (await res.json()) as { degraded: string[] };
        return body.degraded.some((d) => d.includes('REQUEST_LIMIT_EXCEEDED')) ? { status: res.status, body } : undefined;
      }, { what: '/readyz naming the limit' });
      expect(ready.status).toBe(200);
      // Longer than several pauses with JOB_MAX_ATTEMPTS 4: the opt-out is never spent on the limit.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await jobsOf('limited@example.com')).toHaveLength(1);
      expect(await lettersOf('limited@example.com')).toEqual([]);
      expect(isOptedOut(sandbox, 'Contact', contact)).toBe(false);
    } finally {
      sandbox.sf.setApiLimit({ max: 15000, enforce: false });
    }
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact), { what: 'written once there is room' });
    expect(await lettersOf('limited@example.com')).toEqual([]);
  });

  test('when an opt-out is made in Salesforce while the daily API limit refuses the product\'s reads, then it reaches ActiveCampaign, at once or once there is room', async () => {
    const email = 'limited-push@example.com';
    const { contact } = await person(email);
    sandbox.sf.setApiLimit({ max: sandbox.sf.apiUsage().used, enforce: true });
    try {
      sandbox.sf.update('Contact', contact, { HasOptedOutOfEmail: true }, { asUserId: sandbox.sf.users.admin.id });
      // The change event carries the opt-out (events do not count against the allocation): it may go through at
      // once; if a read is refused, it must wait and go through after.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await lettersOf(email)).toEqual([]);
    } finally {
      sandbox.sf.setApiLimit({ max: 15000, enforce: false });
    }
    await waitFor(() => Number(sandbox.ac.contactByEmail(email)?.lists[news.id]) === 2, { what: 'AC unsubscribed once Salesforce answers again', timeoutMs: 30_000 });
  }, 45_000);
});

