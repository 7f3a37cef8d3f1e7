// Contract tests of what a real org does beyond the happy path, each as the Salesforce documents describe it,
// over HTTP as clients see it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../../src/sandbox/salesforce';
import { createTestClient, type TestClient } from './faye-test-client';
import { waitFor } from '../../support/wait-for';

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
      // A request without a valid session is refused for that first, whatever the org's usage.
      const anonymous = await fetch(`${sf.url}/services/data/v62.0/limits`, { headers: { Authorization: 'Bearer not-a-token' } });
      expect(anonymous.status).toBe(401);
      expect(sf.apiUsage().used).toBe(used + 2);
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

describe('Salesforce emulator: object and field permissions of the integration user', () => {
  let sf: SalesforceEmulator;
  let token: string;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    sf = await startSalesforceEmulator({ connectTimeoutMs: 400, clientExpiryMs: 2000 });
    token = sf.issueToken();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sf.close();
  });

  const call = async (method: string, path: string, body?: unknown, as = token): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${sf.url}/services/data/v${sf.apiVersion}${path}`, {
      method,
      headers: { Authorization: `Bearer ${as}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Json) : undefined };
  };
  const access = (path: string, value: string) => fetch(`${sf.url}/__sandbox/access/${path}`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ access: value }) });
  const fieldNames = (describe: Json) => (describe as { fields: Array<{ name: string }> }).fields.map((f) => f.name);
  const query = (soql: string, as = token) => call('GET', `/query?q=${encodeURIComponent(soql)}`, undefined, as);

  it('when field-level security hides the opt-out field, then describe leaves it out, SOQL on it fails INVALID_FIELD and a write of it fails', async () => {
    const id = String(sf.insert('Contact', { LastName: 'Fls', Email: 'fls@example.com' }).Id);
    expect((await access('Contact/HasOptedOutOfEmail', 'hidden')).status).toBe(204);
    try {
      expect(fieldNames((await call('GET', '/sobjects/Contact/describe')).body)).not.toContain('HasOptedOutOfEmail');
      const soql = await query(`SELECT Id, HasOptedOutOfEmail FROM Contact WHERE Id = '${id}'`);
      expect(soql.status).toBe(400);
      expect(soql.body).toEqual([expect.objectContaining({ errorCode: 'INVALID_FIELD' })]);
      expect((soql.body as Array<{ message: string }>)[0]?.message).toContain("No such column 'HasOptedOutOfEmail' on entity 'Contact'");
      const write = await call('PATCH', `/sobjects/Contact/${id}`, { HasOptedOutOfEmail: true });
      expect(write.status).toBe(400);
      expect(write.body).toEqual([expect.objectContaining({ errorCode: 'INVALID_FIELD' })]);
      // Another user (the admin) still sees and writes it.
      const admin = sf.issueToken(sf.users.admin.id);
      expect((await query(`SELECT Id, HasOptedOutOfEmail FROM Contact WHERE Id = '${id}'`, admin)).status).toBe(200);
    } finally {
      await access('Contact/HasOptedOutOfEmail', 'edit');
    }
  });

  it('when field-level security hides the opt-out field, then change events delivered to the integration user lack it, and others still get it', async () => {
    const id = String(sf.insert('Contact', { LastName: 'FlsEvent', Email: 'fls-event@example.com' }).Id);
    sf.setFieldAccess('Contact', 'HasOptedOutOfEmail', 'hidden');
    try {
      const integration = createTestClient(`${sf.url}/cometd/${sf.apiVersion}`, token);
      const admin = createTestClient(`${sf.url}/cometd/${sf.apiVersion}`, sf.issueToken(sf.users.admin.id));
      clients.push(integration, admin);
      await integration.subscribe('/data/ContactChangeEvent');
      await admin.subscribe('/data/ContactChangeEvent');
      sf.update('Contact', id, { HasOptedOutOfEmail: true, FirstName: 'Changed' }, { asUserId: sf.users.admin.id });
      type Cdc = { payload: Record<string, unknown> & { ChangeEventHeader: { changedFields: string[] } } };
      const [seenByIntegration] = (await waitFor(() => integration.eventsOn('/data/ContactChangeEvent').length > 0 && integration.eventsOn('/data/ContactChangeEvent'))) as Cdc[];
      const [seenByAdmin] = (await waitFor(() => admin.eventsOn('/data/ContactChangeEvent').length > 0 && admin.eventsOn('/data/ContactChangeEvent'))) as Cdc[];
      expect(seenByAdmin?.payload.HasOptedOutOfEmail).toBe(true);
      expect(seenByAdmin?.payload.ChangeEventHeader.changedFields).toContain('HasOptedOutOfEmail');
      expect(seenByIntegration?.payload).not.toHaveProperty('HasOptedOutOfEmail');
      expect(seenByIntegration?.payload.ChangeEventHeader.changedFields).not.toContain('HasOptedOutOfEmail');
      expect(seenByIntegration?.payload.ChangeEventHeader.changedFields).toContain('Name.FirstName');
    } finally {
      sf.setFieldAccess('Contact', 'HasOptedOutOfEmail', 'edit');
    }
  });

  it('when the opt-out field is read-only for the integration user, then describe says updateable false and a write fails INVALID_FIELD_FOR_INSERT_UPDATE', async () => {
    const id = String(sf.insert('Lead', { LastName: 'Ro', Company: 'Co', Email: 'ro@example.com' }).Id);
    sf.setFieldAccess('Lead', 'HasOptedOutOfEmail', 'read');
    try {
      const describe = (await call('GET', '/sobjects/Lead/describe')).body as { fields: Array<{ name: string; updateable: boolean }> };
      expect(describe.fields.find((f) => f.name === 'HasOptedOutOfEmail')?.updateable).toBe(false);
      const write = await call('PATCH', '/composite/sobjects', { allOrNone: false, records: [{ attributes: { type: 'Lead' }, id, HasOptedOutOfEmail: true }] });
      expect(write.body).toEqual([{ id, success: false, errors: [expect.objectContaining({ statusCode: 'INVALID_FIELD_FOR_INSERT_UPDATE', fields: ['HasOptedOutOfEmail'] })] }]);
    } finally {
      sf.setFieldAccess('Lead', 'HasOptedOutOfEmail', 'edit');
    }
  });

  it('when the integration user lacks Edit on Contact, then describe says updateable false and each write is refused INSUFFICIENT_ACCESS_OR_READONLY', async () => {
    const id = String(sf.insert('Contact', { LastName: 'NoEdit', Email: 'noedit@example.com' }).Id);
    expect((await access('Contact', 'read')).status).toBe(204);
    try {
      expect((await call('GET', '/sobjects/Contact/describe')).body).toMatchObject({ updateable: false, createable: false });
      const write = await call('PATCH', '/composite/sobjects', { allOrNone: false, records: [{ attributes: { type: 'Contact' }, id, HasOptedOutOfEmail: true }] });
      expect(write.body).toEqual([{ id, success: false, errors: [{ statusCode: 'INSUFFICIENT_ACCESS_OR_READONLY', message: 'insufficient access rights on object id', fields: [] }] }]);
    } finally {
      await access('Contact', 'edit');
    }
  });

  it('when the integration user lacks Read on Lead, then its describe is 404 NOT_FOUND and SOQL on it fails INVALID_TYPE', async () => {
    sf.setObjectAccess('Lead', 'none');
    try {
      expect((await call('GET', '/sobjects/Lead/describe')).status).toBe(404);
      const soql = await query('SELECT Id FROM Lead');
      expect(soql.status).toBe(400);
      expect(soql.body).toEqual([expect.objectContaining({ errorCode: 'INVALID_TYPE' })]);
    } finally {
      sf.setObjectAccess('Lead', 'edit');
    }
  });
});

describe('Salesforce emulator: what real clients ask besides the REST resources', () => {
  let sf: SalesforceEmulator;

  beforeAll(async () => {
    sf = await startSalesforceEmulator();
  });
  afterAll(async () => {
    await sf.close();
  });

  it('when the UserInfo endpoint is asked with a token, then it answers the token user; without one, 403 Bad_OAuth_Token', async () => {
    const ok = await fetch(`${sf.url}/services/oauth2/userinfo`, { headers: { Authorization: `Bearer ${sf.issueToken()}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({
      user_id: sf.users.integration.id,
      organization_id: sf.orgId,
      preferred_username: sf.users.integration.username,
      sub: `${sf.url}/id/${sf.orgId}/${sf.users.integration.id}`,
      urls: { rest: `${sf.url}/services/data/v{version}/` },
    });
    const bad = await fetch(`${sf.url}/services/oauth2/userinfo`, { headers: { Authorization: 'Bearer nope' } });
    expect(bad.status).toBe(403);
    expect(await bad.text()).toBe('Bad_OAuth_Token');
  });

  it('when a query asks columns=true, then it answers the column metadata instead of rows', async () => {
    const res = await fetch(`${sf.url}/services/data/v${sf.apiVersion}/query?q=${encodeURIComponent('SELECT Id, Email, HasOptedOutOfEmail FROM Contact')}&columns=true`, {
      headers: { Authorization: `Bearer ${sf.issueToken()}` },
    });
    expect(await res.json()).toMatchObject({
      entityName: 'Contact',
      idSelected: true,
      columnMetadata: [
        { columnName: 'Id', apexType: 'Id', aggregate: false, joinColumns: [] },
        { columnName: 'Email', apexType: 'String', textType: true },
        { columnName: 'HasOptedOutOfEmail', apexType: 'Boolean', booleanType: true, updatable: true },
      ],
    });
  });
});

describe('Salesforce emulator: event delivery timing of a loaded org', () => {
  let sf: SalesforceEmulator;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    sf = await startSalesforceEmulator({ connectTimeoutMs: 400, clientExpiryMs: 2000 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sf.close();
  });

  type Event = { payload: Record<string, unknown> & { ChangeEventHeader?: { recordIds: string[] } }; event: { replayId: number } };

  it('when delivery is delayed, then an event reaches neither subscribers nor the replay log before its time, and arrives after it', async () => {
    const client = createTestClient(`${sf.url}/cometd/${sf.apiVersion}`, sf.issueToken());
    clients.push(client);
    await client.subscribe('/data/ContactChangeEvent');
    const set = await fetch(`${sf.url}/__sandbox/event-delivery`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ delayMs: 400 }) });
    expect(await set.json()).toEqual({ delayMs: 400, jitterMs: 0, channelDelayMs: {} });
    try {
      const retainedBefore = sf.retainedEvents('/data/ContactChangeEvent').length;
      const started = Date.now();
      sf.insert('Contact', { LastName: 'Late', Email: 'late@example.com' });
      expect(sf.pendingEventCount()).toBeGreaterThan(0);
      expect(sf.retainedEvents('/data/ContactChangeEvent')).toHaveLength(retainedBefore);
      await waitFor(() => client.eventsOn('/data/ContactChangeEvent').length > 0);
      expect(Date.now() - started).toBeGreaterThanOrEqual(390);
      expect(sf.pendingEventCount()).toBe(0);
      expect(sf.retainedEvents('/data/ContactChangeEvent')).toHaveLength(retainedBefore + 1);
    } finally {
      sf.setEventDelivery({ delayMs: 0 });
    }
  });

  it('when the CDC channel is slower than the Platform Event channel, then events cross between channels but keep their order within each', async () => {
    const client = createTestClient(`${sf.url}/cometd/${sf.apiVersion}`, sf.issueToken());
    clients.push(client);
    await client.subscribe('/data/ContactChangeEvent');
    await client.subscribe('/event/OptOut_Change__e');
    const arrivals: string[] = [];
    const seen = { cdc: 0, pe: 0 };
    const poll = setInterval(() => {
      const cdc = client.eventsOn('/data/ContactChangeEvent').length;
      const pe = client.eventsOn('/event/OptOut_Change__e').length;
      for (; seen.cdc < cdc; seen.cdc++) arrivals.push('cdc');
      for (; seen.pe < pe; seen.pe++) arrivals.push('pe');
    }, 5);
    sf.setEventDelivery({ channelDelayMs: { '/data/ContactChangeEvent': 300 }, jitterMs: 50 });
    try {
      const id = String(sf.insert('Contact', { LastName: 'Order', Email: 'order@example.com' }).Id);
      for (const name of ['B', 'C', 'D']) sf.update('Contact', id, { FirstName: name }, { asUserId: sf.users.admin.id });
      sf.publishPlatformEvent('OptOut_Change__e', { Email__c: 'order@example.com' });
      await waitFor(() => client.eventsOn('/data/ContactChangeEvent').length >= 4 && client.eventsOn('/event/OptOut_Change__e').length >= 1, { timeoutMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Published last, delivered first: the channels are not ordered with each other.
      expect(arrivals[0]).toBe('pe');
      const cdc = client.eventsOn('/data/ContactChangeEvent') as Event[];
      const replayIds = cdc.map((e) => e.event.replayId);
      expect(replayIds).toEqual([...replayIds].sort((a, b) => a - b));
      expect(cdc.map((e) => (e.payload.Name as { FirstName?: string } | undefined)?.FirstName ?? null)).toEqual([null, 'B', 'C', 'D']);
    } finally {
      clearInterval(poll);
      sf.setEventDelivery({ channelDelayMs: {}, jitterMs: 0 });
    }
  });
});
