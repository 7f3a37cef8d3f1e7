// A misconfigured integration user is reported by the running product before it silently loses events.
import { engines } from '../support/test-databases';
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { waitFor } from '../support/wait-for';
import { readyApp } from '../support/sandbox-queries';

const readyz = async (sandbox: Sandbox) => {
  const res = await fetch(`${sandbox.app!.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; degraded: string[] } };
};

describe.each(engines)('the integration user lacks field-level security for the opt-out field, on %s', (engine) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox(engine);
    sandbox.sf.setFieldAccess('Contact', 'HasOptedOutOfEmail', 'hidden');
    sandbox.sf.setFieldAccess('Lead', 'HasOptedOutOfEmail', 'read');
    await sandbox.startApp({ permissionCheckEveryMs: 200 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when the middleware starts, then its status names each object, field and missing permission', async () => {
    const status = await sandbox.app!.status();
    expect(status.salesforcePermissions).toEqual([
      expect.objectContaining({ object: 'Contact', field: 'HasOptedOutOfEmail', permission: 'Field-level security: Read' }),
      expect.objectContaining({ object: 'Lead', field: 'HasOptedOutOfEmail', permission: 'Field-level security: Edit' }),
    ]);
    expect(sandbox.logLines.join('')).toContain('salesforce permissions missing: Contact.HasOptedOutOfEmail lacks Field-level security: Read');
  });

  test('when a readiness probe asks, then /readyz answers 200 degraded naming each object, field and missing permission, and the status banner says the same', async () => {
    // Ready once the stream is up: the finding makes the instance degraded, never unready.
    const { status, body } = await waitFor(async () => {
      const r = await readyz(sandbox);
      return r.status === 200 ? r : false;
    }, { what: 'the stream to connect' });
    expect(status).toBe(200);
    expect(body.status).toBe('degraded');
    expect(body.degraded).toEqual(
      expect.arrayContaining([
        expect.stringContaining('Contact.HasOptedOutOfEmail lacks Field-level security: Read'),
        expect.stringContaining('Lead.HasOptedOutOfEmail lacks Field-level security: Edit'),
      ]),
    );
    const app = await sandbox.app!.status();
    expect(app.health.degraded).toBe(true);
    expect(app.health.reasons).toEqual(expect.arrayContaining([expect.stringContaining('Contact.HasOptedOutOfEmail lacks Field-level security: Read')]));
  });

  test('when readiness is asked often, then the describes are not read per request', async () => {
    const describes = () => sandbox.sf.requestLog.filter((r) => r.path.endsWith('/describe')).length;
    const before = describes();
    for (let i = 0; i < 10; i++) await readyz(sandbox);
    // The periodic check (every 200 ms here) may run once or twice meanwhile, at two describes each: never ten times.
    expect(describes() - before).toBeLessThan(10);
  });

  test('when an AC unsubscribe meets the hidden field, then the opt-out waits and neither the job\'s error nor the log quotes the query\'s emails', async () => {
    // Salesforce's INVALID_FIELD message repeats the SOQL it refused, and that query lists the emails asked for.
    await readyApp(sandbox);
    const email = 'hidden.reader@example.com';
    const list = sandbox.ac.createList('Hidden field news');
    sandbox.ac.createContact(email, { lists: { [list.id]: 1 } });
    sandbox.sf.insert('Contact', { LastName: 'Reader', Email: email, HasOptedOutOfEmail: false });
    await sandbox.app!.pollNow();
    const logFrom = sandbox.logLines.length;
    sandbox.ac.unsubscribe(email, 'all');
    const job = await waitFor(async () => {
      const rows = (await sandbox.app!.store.db.query(`SELECT last_error FROM jobs WHERE subject = $1`, [email])).rows as { last_error: string | null }[];
      return rows.find((r) => r.last_error !== null);
    }, { what: 'the pull job failing on the hidden field' });
    expect(job.last_error).toContain('INVALID_FIELD');
    expect(job.last_error).not.toContain(email);
    expect(sandbox.logLines.slice(logFrom).join('')).not.toContain(email);
    expect((await sandbox.app!.store.jobs.listDeadLetters()).filter((d) => d.subject === email)).toEqual([]);
  });

  test('when the field is hidden on Contact only, then the Lead of the same email is still opted out and the Contact\'s part waits', async () => {
    sandbox.sf.setFieldAccess('Lead', 'HasOptedOutOfEmail', 'edit');
    await readyApp(sandbox);
    const email = 'half.hidden@example.com';
    const list = sandbox.ac.createList('Half hidden news');
    sandbox.ac.createContact(email, { lists: { [list.id]: 1 } });
    sandbox.sf.insert('Contact', { LastName: 'Half', Email: email, HasOptedOutOfEmail: false });
    const lead = String(sandbox.sf.insert('Lead', { LastName: 'Half', Company: 'Acme', Email: email, HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    sandbox.ac.unsubscribe(email, 'all');
    await waitFor(() => sandbox.sf.get('Lead', lead)?.HasOptedOutOfEmail === true, { what: 'the Lead opted out although Contact cannot be read' });
    const job = await waitFor(async () => {
      const rows = (await sandbox.app!.store.db.query(`SELECT last_error FROM jobs WHERE subject = $1`, [email])).rows as { last_error: string | null }[];
      return rows.find((r) => r.last_error !== null);
    }, { what: 'the job going round again for the Contact' });
    expect(job.last_error).toContain('Contact');
    expect((await sandbox.app!.store.jobs.listDeadLetters()).filter((d) => d.subject === email)).toEqual([]);
  });

  test('when the admin grants the access, then the periodic check clears the finding and /readyz is ready again', async () => {
    sandbox.sf.setFieldAccess('Contact', 'HasOptedOutOfEmail', 'edit');
    sandbox.sf.setFieldAccess('Lead', 'HasOptedOutOfEmail', 'edit');
    const body = await waitFor(async () => {
      const r = await readyz(sandbox);
      return r.body.degraded.some((d) => d.includes('permission')) ? false : r;
    }, { what: 'the permission finding to clear' });
    expect(body.status).toBe(200);
    expect((await sandbox.app!.status()).salesforcePermissions).toEqual([]);
  });
});
