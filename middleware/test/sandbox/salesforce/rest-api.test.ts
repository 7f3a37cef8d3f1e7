import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import jsforce, { type Connection } from 'jsforce';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../../src/sandbox/salesforce';

describe('Salesforce emulator REST API', () => {
  let sf: SalesforceEmulator;
  let token: string;
  let conn: Connection;

  beforeAll(async () => {
    sf = await startSalesforceEmulator({
      queryBatchSize: 3,
      customFields: { Contact: [{ name: 'Custom_Opt_Out__c', type: 'boolean' }] },
    });
    token = sf.issueToken();
    conn = new jsforce.Connection({
      instanceUrl: sf.url,
      accessToken: token,
      version: sf.apiVersion,
      callOptions: { client: 'optout-sync' },
    });
  });
  afterAll(async () => {
    await sf.close();
  });

  const get = async (path: string, accessToken = token): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${sf.url}/services/data/v${sf.apiVersion}${path}`, {
      headers: { Authorization: `Bearer ${accessToken}` },
    });
    return { status: res.status, body: await res.json() };
  };
  const send = async (method: string, path: string, body: unknown): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${sf.url}/services/data/v${sf.apiVersion}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  };

  it('when a query has more rows than the batch size, then jsforce pages through nextRecordsUrl', async () => {
    sf.seed({
      Lead: Array.from({ length: 7 }, (_, i) => ({
        LastName: `Page${i}`,
        Company: 'Acme',
        Email: `page${i}@example.com`,
      })),
    });
    const first = await get(
      `/query?q=${encodeURIComponent("SELECT Id, Email FROM Lead WHERE Company = 'acme' ORDER BY LastName")}`,
    );
    const page = first.body as {
      totalSize: number;
      done: boolean;
      nextRecordsUrl: string;
      records: Array<{ attributes: { type: string; url: string } }>;
    };
    expect(page.totalSize).toBe(7);
    expect(page.done).toBe(false);
    expect(page.nextRecordsUrl).toMatch(/^\/services\/data\/v62\.0\/query\/01g[A-Za-z0-9]{12}-3$/);
    expect(page.records[0]?.attributes.type).toBe('Lead');
    const all = await conn
      .query<{ Email: string }>("SELECT Id, Email FROM Lead WHERE Company = 'Acme' ORDER BY LastName DESC")
      .run({ autoFetch: true, maxFetch: 100 });
    expect(all.records.map((r) => r.Email)).toEqual(Array.from({ length: 7 }, (_, i) => `page${6 - i}@example.com`));
  });

  it('when Email is compared, then case does not matter, and IN, OR, LastModifiedDate and LIMIT work', async () => {
    const c = sf.insert('Contact', { LastName: 'Case', Email: 'Mixed.Case@Example.com' });
    const byEmail = await conn.query("SELECT Id FROM Contact WHERE Email = 'mixed.case@example.com'");
    expect(byEmail.records.map((r) => r.Id)).toEqual([c.Id]);
    const combined = await conn.query(
      "SELECT Id, HasOptedOutOfEmail FROM Contact WHERE (Email IN ('MIXED.case@example.com', 'x@y.z') OR Email = 'none@x.y') AND HasOptedOutOfEmail = false AND LastModifiedDate > 2000-01-01T00:00:00Z LIMIT 5",
    );
    expect(combined.totalSize).toBe(1);
  });

  it('when a field or entity is unknown or the SOQL unsupported, then INVALID_FIELD, INVALID_TYPE or MALFORMED_QUERY', async () => {
    const field = await get(`/query?q=${encodeURIComponent('SELECT Id, Nope__c FROM Contact')}`);
    expect(field.status).toBe(400);
    expect(field.body).toEqual([
      {
        message:
          "\nSELECT Id, Nope__c FROM Contact\n           ^\nERROR at Row:1:Column:12\nNo such column 'Nope__c' on entity 'Contact'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
        errorCode: 'INVALID_FIELD',
      },
    ]);
    const type = await get(`/query?q=${encodeURIComponent('SELECT Id FROM Nope__c')}`);
    expect((type.body as Array<{ errorCode: string }>)[0]?.errorCode).toBe('INVALID_TYPE');
    const malformed = await get(`/query?q=${encodeURIComponent('SELECT Id FROM Contact GROUP BY Email')}`);
    expect((malformed.body as Array<{ errorCode: string }>)[0]?.errorCode).toBe('MALFORMED_QUERY');
  });

  it('when a literal does not fit its field, then INVALID_FIELD even if no record would be compared; NOT IN and a semi-join filter once', async () => {
    // SOQL checks a literal's type when it compiles the query, not per row: Salesforce rejects it on an empty table.
    const empty = await get(`/query?q=${encodeURIComponent("SELECT Id FROM Lead WHERE Company = 'nobody-here' AND HasOptedOutOfEmail = 'yes'")}`);
    expect(empty.status).toBe(400);
    expect((empty.body as Array<{ errorCode: string; message: string }>)[0]).toMatchObject({ errorCode: 'INVALID_FIELD', message: expect.stringContaining("field 'HasOptedOutOfEmail' must be of type boolean") });
    const a = sf.insert('Contact', { LastName: 'InA', Email: 'in.a@example.com' });
    sf.insert('Contact', { LastName: 'InB', Email: 'in.b@example.com' });
    const notIn = await conn.query<{ Id: string }>("SELECT Id FROM Contact WHERE LastName IN ('InA', 'InB') AND Email NOT IN ('IN.B@example.com')");
    expect(notIn.records.map((r) => r.Id)).toEqual([a.Id]);
    const semi = await conn.query<{ Id: string }>("SELECT Id FROM Contact WHERE Id IN (SELECT Id FROM Contact WHERE Email = 'in.a@example.com')");
    expect(semi.records.map((r) => r.Id)).toEqual([a.Id]);
  });

  it('when one collections call updates several records, then they share one LastModifiedDate (one transaction), even across a second', async () => {
    // A clock that moves 700 ms each time it is read: per-record stamps would straddle seconds (CI, under load).
    let t = Date.parse('2026-12-07T06:00:00.500Z');
    const stepping = await startSalesforceEmulator({ now: () => new Date((t += 700)) });
    try {
      const ids = [0, 1, 2].map((i) => String(stepping.insert('Contact', { LastName: `Tx${i}`, Email: `tx${i}@example.com` }).Id));
      const res = await fetch(`${stepping.url}/services/data/v${stepping.apiVersion}/composite/sobjects`, {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${stepping.issueToken()}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ allOrNone: false, records: ids.map((id) => ({ attributes: { type: 'Contact' }, id, HasOptedOutOfEmail: true })) }),
      });
      expect(res.status).toBe(200);
      expect(new Set(ids.map((id) => stepping.get('Contact', id)?.LastModifiedDate)).size).toBe(1);
    } finally {
      await stepping.close();
    }
  });

  it('when the settings custom metadata is queried, then the Default record comes back; without the package, INVALID_TYPE', async () => {
    const settings = await conn.query<{ DeveloperName: string; Opt_Out_Field__c: string }>(
      "SELECT DeveloperName, Opt_Out_Field__c, Push_Enabled__c FROM OptOutSync_Settings__mdt WHERE DeveloperName = 'Default'",
    );
    expect(settings.records[0]?.Opt_Out_Field__c).toBe('HasOptedOutOfEmail');
    sf.setCustomMetadata('OptOutSync_Settings__mdt', 'Default', { Opt_Out_Field__c: 'Custom_Opt_Out__c' });
    const changed = await conn.query<{ Opt_Out_Field__c: string }>(
      'SELECT Opt_Out_Field__c FROM OptOutSync_Settings__mdt',
    );
    expect(changed.records[0]?.Opt_Out_Field__c).toBe('Custom_Opt_Out__c');
    sf.setPackageInstalled(false);
    try {
      const describe = await get('/sobjects/Contact/describe');
      const names = (describe.body as { fields: Array<{ name: string }> }).fields.map((f) => f.name);
      expect(names).not.toContain('AC_Status__c');
      expect(names).toContain('Custom_Opt_Out__c');
      const query = await get(`/query?q=${encodeURIComponent('SELECT Id FROM OptOutSync_Settings__mdt')}`);
      expect((query.body as Array<{ errorCode: string }>)[0]?.errorCode).toBe('INVALID_TYPE');
    } finally {
      sf.setPackageInstalled(true);
    }
    const describe = await conn.sobject('Lead').describe();
    expect(describe.fields.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        'AC_Contact_Id__c',
        'AC_Status__c',
        'AC_Hard_Bounced__c',
        'Opt_Out_Source__c',
        'AC_Last_Synced__c',
      ]),
    );
  });

  it('when jsforce creates, reads and updates a Contact, then the record changes and LastModifiedById is the token user', async () => {
    const created = await conn.sobject('Contact').create({ LastName: 'Jsf', Email: 'jsf-rest@example.com' });
    expect(created.success).toBe(true);
    expect(created.id?.startsWith('003')).toBe(true);
    await conn.sobject('Contact').update({ Id: created.id ?? '', HasOptedOutOfEmail: true, Custom_Opt_Out__c: true });
    const read = await conn.sobject('Contact').retrieve(created.id ?? '');
    expect(read.HasOptedOutOfEmail).toBe(true);
    expect(read.LastModifiedById).toBe(sf.users.integration.id);
    expect(String(read.LastModifiedDate)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000$/);
    const missing = await send('POST', '/sobjects/Contact', { Email: 'no-last-name@example.com' });
    expect(missing).toEqual({
      status: 400,
      body: [
        {
          message: 'Required fields are missing: [LastName]',
          errorCode: 'REQUIRED_FIELD_MISSING',
          fields: ['LastName'],
        },
      ],
    });
  });

  it('when a collections PATCH hits an injected lock failure, then only that record fails; with allOrNone, all roll back', async () => {
    const ids =
      sf.seed({ Contact: [1, 2, 3].map((n) => ({ LastName: `Coll${n}`, Email: `coll${n}@example.com` })) }).Contact ??
      [];
    const [a, b, c] = ids;
    if (!a || !b || !c) throw new Error('seed failed');
    sf.failNextWrites(b, 'UNABLE_TO_LOCK_ROW', 1);
    const records = ids.map((id) => ({ attributes: { type: 'Contact' }, id, HasOptedOutOfEmail: true }));
    const partial = await send('PATCH', '/composite/sobjects', { allOrNone: false, records });
    expect(partial.body).toEqual([
      { id: a, success: true, errors: [] },
      {
        id: b,
        success: false,
        errors: [
          {
            statusCode: 'UNABLE_TO_LOCK_ROW',
            message: 'unable to obtain exclusive access to this record or 1 records',
            fields: [],
          },
        ],
      },
      { id: c, success: true, errors: [] },
    ]);
    expect(sf.get('Contact', b)?.HasOptedOutOfEmail).toBe(false);
    sf.failNextWrites(a, 'UNABLE_TO_LOCK_ROW', 1);
    const rolledBack = await send('PATCH', '/composite/sobjects', {
      allOrNone: true,
      records: ids.map((id) => ({ attributes: { type: 'Contact' }, id, FirstName: 'Rolled' })),
    });
    const results = rolledBack.body as Array<{ success: boolean; errors: Array<{ statusCode: string }> }>;
    expect(results.map((r) => r.errors[0]?.statusCode)).toEqual([
      'UNABLE_TO_LOCK_ROW',
      'ALL_OR_NONE_OPERATION_ROLLED_BACK',
      'ALL_OR_NONE_OPERATION_ROLLED_BACK',
    ]);
    expect(sf.get('Contact', c)?.FirstName).toBeNull();
  });

  it('when a collections PATCH names a malformed id, then that result has no id (REST API guide, "Update Records Using sObject Collections", example with allOrNone false)', async () => {
    const [valid] = sf.seed({ Contact: [{ LastName: 'Shape', Email: 'shape@example.com' }] }).Contact ?? [];
    const partial = await send('PATCH', '/composite/sobjects', {
      allOrNone: false,
      records: [
        { attributes: { type: 'Contact' }, id: valid, FirstName: 'Shaped' },
        { attributes: { type: 'Contact' }, id: '001xx000003DGb2999', FirstName: 'Nobody' },
      ],
    });
    expect(partial.body).toEqual([
      { id: valid, success: true, errors: [] },
      { success: false, errors: [{ statusCode: 'MALFORMED_ID', message: 'Contact ID: id value of incorrect type: 001xx000003DGb2999', fields: ['Id'] }] },
    ]);
    const rolledBack = await send('PATCH', '/composite/sobjects', {
      allOrNone: true,
      records: [
        { attributes: { type: 'Contact' }, id: valid, FirstName: 'Rolled' },
        { attributes: { type: 'Contact' }, id: '001xx000003DGb2999', FirstName: 'Nobody' },
      ],
    });
    // The valid record keeps its id beside ALL_OR_NONE_OPERATION_ROLLED_BACK; the malformed one has none.
    expect(rolledBack.body).toEqual([
      { id: valid, success: false, errors: [expect.objectContaining({ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK' })] },
      { success: false, errors: [expect.objectContaining({ statusCode: 'MALFORMED_ID' })] },
    ]);
  });

  it('when a PATCH carries If-Unmodified-Since, then it is applied only if LastModifiedDate is not later (whole seconds); 412 otherwise, 400 for a bad date', async () => {
    const contact = sf.insert('Contact', { LastName: 'Conditional', Email: 'conditional@example.com', HasOptedOutOfEmail: true });
    const id = String(contact.Id);
    const lastModified = new Date(String(sf.get('Contact', id)!.LastModifiedDate));
    const patch = (since: string, fields: Record<string, unknown>) =>
      fetch(`${sf.url}/services/data/v${sf.apiVersion}/sobjects/Contact/${id}`, {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'If-Unmodified-Since': since },
        body: JSON.stringify(fields),
      });

    const refused = await patch(new Date(lastModified.getTime() - 1000).toUTCString(), { HasOptedOutOfEmail: false });
    expect(refused.status).toBe(412);
    expect(sf.get('Contact', id)!.HasOptedOutOfEmail).toBe(true);

    const bad = await patch('yesterday-ish', { HasOptedOutOfEmail: false });
    expect(bad.status).toBe(400);
    expect(sf.get('Contact', id)!.HasOptedOutOfEmail).toBe(true);

    const applied = await patch(lastModified.toUTCString(), { HasOptedOutOfEmail: false });
    expect(applied.status).toBe(204);
    expect(sf.get('Contact', id)!.HasOptedOutOfEmail).toBe(false);
  });

  it('when a collections call carries more than 200 records, then EXCEEDED_ID_LIMIT', async () => {
    const records = Array.from({ length: 201 }, () => ({
      attributes: { type: 'Contact' },
      id: '003Rj0000000001AAA',
      FirstName: 'x',
    }));
    const res = await send('PATCH', '/composite/sobjects', { allOrNone: false, records });
    expect(res).toEqual({
      status: 400,
      body: [
        {
          message: 'record limit reached. cannot submit more than 200 records into this call',
          errorCode: 'EXCEEDED_ID_LIMIT',
        },
      ],
    });
  });

  it('when API calls are made, then /limits counts every one of them', async () => {
    const before = sf.apiCallCount();
    await get('/sobjects');
    const limits = await get('/limits');
    const daily = (limits.body as { DailyApiRequests: { Max: number; Remaining: number } }).DailyApiRequests;
    expect(sf.apiCallCount()).toBe(before + 2);
    expect(daily.Remaining).toBe(daily.Max - sf.apiCallCount());
    expect(sf.requestLog.some((e) => e.path.endsWith('/limits') && e.apiCall)).toBe(true);
  });

  it('when the data root and version root are read, then versions and resources are listed', async () => {
    const versions = (await (await fetch(`${sf.url}/services/data/`)).json()) as Array<{
      version: string;
      url: string;
    }>;
    expect(versions.some((v) => v.version === '62.0' && v.url === '/services/data/v62.0')).toBe(true);
    const root = await get('/');
    expect(root.body).toHaveProperty('query', '/services/data/v62.0/query');
  });

  it('when the control API is called over HTTP, then records and faults change', async () => {
    const created = await fetch(`${sf.url}/__sandbox/records/Lead`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ fields: { LastName: 'Ctl', Company: 'Ctl Inc', Email: 'ctl@example.com' } }),
    });
    expect(created.status).toBe(201);
    const found = (await (await fetch(`${sf.url}/__sandbox/records?email=CTL@example.com`)).json()) as Array<{
      type: string;
    }>;
    expect(found.map((r) => r.type)).toEqual(['Lead']);
    await fetch(`${sf.url}/__sandbox/tokens/revoke-all`, { method: 'POST' });
    expect((await get('/limits')).status).toBe(401);
    token = sf.issueToken();
  });
});
