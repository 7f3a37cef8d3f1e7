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
