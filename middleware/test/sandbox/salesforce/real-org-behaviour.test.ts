// Contract tests of what a real org does beyond the happy path, each as the Salesforce documents describe it,
// over HTTP as clients see it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../../src/sandbox/salesforce';

type Json = unknown;

describe('Salesforce emulator: records a real org refuses', () => {
  let sf: SalesforceEmulator;
  let token: string;

  beforeAll(async () => {
    sf = await startSalesforceEmulator();
    token = sf.issueToken();
  });
  afterAll(async () => {
    await sf.close();
  });

  const call = async (method: string, path: string, body?: unknown, base = `${sf.url}/services/data/v${sf.apiVersion}`): Promise<{ status: number; body: Json; headers: Headers }> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Json) : undefined, headers: res.headers };
  };
  const lead = (email: string) => String(sf.insert('Lead', { LastName: 'L', Company: 'Co', Email: email }).Id);
  const contact = (email: string) => String(sf.insert('Contact', { LastName: 'C', Email: email }).Id);
  const collectionsUpdate = (records: Array<{ type: string; id: string }>) =>
    call('PATCH', '/composite/sobjects', { allOrNone: false, records: records.map((r) => ({ attributes: { type: r.type }, id: r.id, HasOptedOutOfEmail: true })) });

  it('when a Lead is converted, then it stays queryable with IsConverted true and IsConverted = false leaves it out', async () => {
    const id = lead('conv-query@example.com');
    sf.convertLead(id);
    const all = await call('GET', `/query?q=${encodeURIComponent("SELECT Id, IsConverted, Status FROM Lead WHERE Email = 'conv-query@example.com'")}`);
    expect(all.body).toMatchObject({ totalSize: 1, records: [{ IsConverted: true, Status: 'Closed - Converted' }] });
    const open = await call('GET', `/query?q=${encodeURIComponent("SELECT Id FROM Lead WHERE Email = 'conv-query@example.com' AND IsConverted = false")}`);
    expect(open.body).toMatchObject({ totalSize: 0 });
  });

  it('when a converted Lead is updated through sObject Rows, then 400 CANNOT_UPDATE_CONVERTED_LEAD', async () => {
    const id = lead('conv-row@example.com');
    sf.convertLead(id);
    const res = await call('PATCH', `/sobjects/Lead/${id}`, { HasOptedOutOfEmail: true });
    expect(res.status).toBe(400);
    expect(res.body).toEqual([{ errorCode: 'CANNOT_UPDATE_CONVERTED_LEAD', message: 'cannot reference converted lead', fields: [] }]);
  });

  it('when a Collections update holds a converted Lead, then that record alone fails and the others are saved', async () => {
    const converted = lead('conv-coll@example.com');
    const other = contact('conv-coll@example.com');
    sf.convertLead(converted);
    const res = await collectionsUpdate([{ type: 'Lead', id: converted }, { type: 'Contact', id: other }]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { id: converted, success: false, errors: [{ statusCode: 'CANNOT_UPDATE_CONVERTED_LEAD', message: 'cannot reference converted lead', fields: [] }] },
      { id: other, success: true, errors: [] },
    ]);
    expect(sf.get('Contact', other)?.HasOptedOutOfEmail).toBe(true);
    expect(sf.get('Lead', converted)?.HasOptedOutOfEmail).toBe(false);
  });

  it.each([
    [{ kind: 'validation-rule', message: 'Opt-out needs a reason', field: 'HasOptedOutOfEmail' }, { statusCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'Opt-out needs a reason', fields: ['HasOptedOutOfEmail'] }],
    [{ kind: 'required-field', field: 'Region__c' }, { statusCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [Region__c]', fields: ['Region__c'] }],
    [{ kind: 'deleted' }, { statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }],
    [{ kind: 'read-only' }, { statusCode: 'INSUFFICIENT_ACCESS_OR_READONLY', message: 'insufficient access rights on object id', fields: [] }],
  ] as const)('when the control API puts %j on a record, then Collections answers it for that record only, until cleared', async (fault, error) => {
    const refused = contact(`fault-${fault.kind}@example.com`);
    const fine = contact(`fine-${fault.kind}@example.com`);
    const put = await fetch(`${sf.url}/__sandbox/records/${refused}/fault`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(fault) });
    expect(put.status).toBe(204);
    const res = await collectionsUpdate([{ type: 'Contact', id: refused }, { type: 'Contact', id: fine }]);
    expect(res.body).toEqual([{ id: refused, success: false, errors: [error] }, { id: fine, success: true, errors: [] }]);
    await fetch(`${sf.url}/__sandbox/records/${refused}/fault`, { method: 'DELETE' });
    const again = await collectionsUpdate([{ type: 'Contact', id: refused }]);
    expect(again.body).toEqual([{ id: refused, success: true, errors: [] }]);
  });

  it('when a Lead is converted through the control API, then the answer shows it converted', async () => {
    const id = lead('conv-http@example.com');
    const res = await fetch(`${sf.url}/__sandbox/leads/${id}/convert`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ Id: id, IsConverted: true });
  });
});

describe('Salesforce emulator: sessions and the daily API allocation', () => {
  let sf: SalesforceEmulator;
  const clock = { offsetMs: 0 };
  const hour = 3600_000;

  beforeAll(async () => {
    sf = await startSalesforceEmulator({ now: () => new Date(Date.now() + clock.offsetMs) });
  });
  afterAll(async () => {
    await sf.close();
  });

  const limits = (token: string, path = `/services/data/v${sf.apiVersion}/limits`) => fetch(`${sf.url}${path}`, { headers: { Authorization: `Bearer ${token}` } });

  it('when a session is used within two hours of its last use, then it lives on; after two idle hours it answers 401 INVALID_SESSION_ID', async () => {
    const token = sf.issueToken();
    clock.offsetMs += 1.9 * hour;
    expect((await limits(token)).status).toBe(200);
    clock.offsetMs += 1.9 * hour;
    expect((await limits(token)).status).toBe(200);
    clock.offsetMs += 2 * hour;
    const expired = await limits(token);
    expect(expired.status).toBe(401);
    expect(await expired.json()).toEqual([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
  });

  it('when the control API shortens the session timeout, then idle sessions end sooner', async () => {
    const token = sf.issueToken();
    const set = await fetch(`${sf.url}/__sandbox/session-timeout`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ms: 60_000 }) });
    expect(set.status).toBe(204);
    try {
      clock.offsetMs += 61_000;
      expect((await limits(token)).status).toBe(401);
    } finally {
      sf.setSessionTimeout(2 * hour);
    }
  });

  it('when REST answers, then it carries Sforce-Limit-Info api-usage=<used>/<max>, except the Versions resource', async () => {
    const token = sf.issueToken();
    const before = sf.apiUsage().used;
    const answer = await limits(token);
    expect(answer.headers.get('sforce-limit-info')).toBe(`api-usage=${before + 1}/15000`);
    const body = (await answer.json()) as { DailyApiRequests: { Max: number; Remaining: number } };
    expect(body.DailyApiRequests).toEqual({ Max: 15000, Remaining: 15000 - (before + 1) });
    const versions = await limits(token, '/services/data');
    expect(versions.headers.get('sforce-limit-info')).toBeNull();
    expect(sf.apiUsage().used).toBe(before + 1);
  });

  it('when the allocation is enforced and used up, then calls answer 403 REQUEST_LIMIT_EXCEEDED until 24 hours make room', async () => {
    const token = sf.issueToken();
    const used = sf.apiUsage().used;
    const set = await fetch(`${sf.url}/__sandbox/api-limit`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ max: used + 2, enforce: true }) });
    expect(await set.json()).toEqual({ used, max: used + 2, enforced: true });
    try {
      expect((await limits(token)).status).toBe(200);
      expect((await limits(token)).status).toBe(200);
      const refused = await limits(token);
      expect(refused.status).toBe(403);
      expect(await refused.json()).toEqual([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
      expect(refused.headers.get('sforce-limit-info')).toBe(`api-usage=${used + 2}/${used + 2}`);
      clock.offsetMs += 24 * hour + 60_000;
      const token2 = sf.issueToken();
      const later = await limits(token2);
      expect(later.status).toBe(200);
      expect(later.headers.get('sforce-limit-info')).toBe(`api-usage=1/${used + 2}`);
    } finally {
      sf.setApiLimit({ max: 15000, enforce: false });
    }
  });

  it('when a client asks for //services/data paths, then they are served as /services/data', async () => {
    const token = sf.issueToken();
    const answer = await limits(token, `//services/data/v${sf.apiVersion}/limits`);
    expect(answer.status).toBe(200);
  });
});
