import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import jsforce from 'jsforce';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../../src/sandbox/salesforce';
import { waitFor } from '../../support/wait-for';
import { createTestClient, type TestClient } from './faye-test-client';

interface CdcMessage {
  schema: string;
  payload: Record<string, unknown> & {
    ChangeEventHeader: {
      entityName: string;
      recordIds: string[];
      changeType: string;
      changedFields: string[];
      commitUser: string;
      changeOrigin: string;
    };
  };
  event: { replayId: number };
}

const asCdc = (m: unknown): CdcMessage => m as CdcMessage;

describe('Salesforce emulator CometD streaming', () => {
  let sf: SalesforceEmulator;
  let token: string;
  let cometdUrl: string;
  const clients: TestClient[] = [];
  const newClient = (opts?: Parameters<typeof createTestClient>[2], t = token): TestClient => {
    const c = createTestClient(cometdUrl, t, opts);
    clients.push(c);
    return c;
  };
  const rest = (path: string, init: RequestInit & { client?: string } = {}): Promise<Response> =>
    fetch(`${sf.url}/services/data/v${sf.apiVersion}${path}`, {
      ...init,
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        ...(init.client ? { 'Sforce-Call-Options': `client=${init.client}` } : {}),
      },
    });

  beforeAll(async () => {
    sf = await startSalesforceEmulator({ connectTimeoutMs: 400, clientExpiryMs: 2000 });
    token = sf.issueToken();
    cometdUrl = `${sf.url}/cometd/${sf.apiVersion}`;
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sf.close();
  });

  it('when a REST PATCH carries Sforce-Call-Options, then the CDC event names the changed fields, the writer and the client', async () => {
    const contact = sf.insert('Contact', { LastName: 'Patch', Email: 'patch@example.com' });
    const c = newClient();
    await c.subscribe('/data/ContactChangeEvent');
    const res = await rest(`/sobjects/Contact/${String(contact.Id)}`, {
      method: 'PATCH',
      body: JSON.stringify({ HasOptedOutOfEmail: true }),
      client: 'optout-sync',
    });
    expect(res.status).toBe(204);
    const events = await waitFor(
      () => c.eventsOn('/data/ContactChangeEvent').length > 0 && c.eventsOn('/data/ContactChangeEvent'),
    );
    const event = asCdc(events[0]);
    const header = event.payload.ChangeEventHeader;
    expect(header.changeType).toBe('UPDATE');
    expect(header.recordIds).toEqual([contact.Id]);
    expect(header.changedFields.sort()).toEqual(['HasOptedOutOfEmail', 'LastModifiedDate']);
    expect(header.commitUser).toBe(sf.users.integration.id);
    expect(header.changeOrigin).toBe(`com/salesforce/api/rest/${sf.apiVersion};client=optout-sync`);
    expect(event.payload.HasOptedOutOfEmail).toBe(true);
    expect(event.payload).not.toHaveProperty('Email');
  });

  it('when a write carries no call options, then changeOrigin is the empty string', async () => {
    const contact = sf.insert('Contact', { LastName: 'NoOrigin', Email: 'no-origin@example.com' });
    const c = newClient();
    await c.subscribe('/data/ContactChangeEvent');
    sf.update('Contact', String(contact.Id), { FirstName: 'Ann' }, { asUserId: sf.users.admin.id });
    const events = await waitFor(
      () => c.eventsOn('/data/ContactChangeEvent').length > 0 && c.eventsOn('/data/ContactChangeEvent'),
    );
    const header = asCdc(events[0]).payload.ChangeEventHeader;
    expect(header.changeOrigin).toBe('');
    expect(header.commitUser).toBe(sf.users.admin.id);
    expect(header.changedFields).toEqual(
      expect.arrayContaining(['Name.FirstName', 'LastModifiedDate', 'LastModifiedById']),
    );
  });

  it('when the custom channel receives an update, then Email is enriched there only', async () => {
    const lead = sf.insert('Lead', { LastName: 'Lee', Company: 'Acme', Email: 'Lee@Example.com' });
    const c = newClient();
    await c.subscribe('/data/OptOutSync__chn');
    await c.subscribe('/data/ChangeEvents');
    sf.update('Lead', String(lead.Id), { HasOptedOutOfEmail: true });
    await waitFor(() => c.eventsOn('/data/OptOutSync__chn').length > 0 && c.eventsOn('/data/ChangeEvents').length > 0);
    const custom = asCdc(c.eventsOn('/data/OptOutSync__chn')[0]);
    const standard = asCdc(c.eventsOn('/data/ChangeEvents')[0]);
    expect(custom.payload.Email).toBe('Lee@Example.com');
    expect(custom.payload.ChangeEventHeader.entityName).toBe('Lead');
    expect(standard.payload).not.toHaveProperty('Email');
    expect(custom.event.replayId).toBe(standard.event.replayId);
  });

  it('when a collections PATCH makes one change to many records, then one merged event carries all record ids', async () => {
    const ids =
      sf.seed({ Contact: [1, 2, 3].map((n) => ({ LastName: `Bulk${n}`, Email: `bulk${n}@example.com` })) }).Contact ??
      [];
    const c = newClient();
    await c.subscribe('/data/ContactChangeEvent');
    await c.subscribe('/data/OptOutSync__chn');
    const res = await rest('/composite/sobjects', {
      method: 'PATCH',
      body: JSON.stringify({
        allOrNone: false,
        records: ids.map((id) => ({ attributes: { type: 'Contact' }, id, HasOptedOutOfEmail: true })),
      }),
    });
    expect(res.status).toBe(200);
    await waitFor(() => c.eventsOn('/data/OptOutSync__chn').length >= 3);
    const merged = c.eventsOn('/data/ContactChangeEvent').map(asCdc);
    expect(merged).toHaveLength(1);
    expect(merged[0]?.payload.ChangeEventHeader.recordIds.sort()).toEqual([...ids].sort());
    // Enriched channels do not merge: one message per record, same replayId (CDC guide, enrichment considerations).
    const split = c.eventsOn('/data/OptOutSync__chn').map(asCdc);
    expect(split.map((e) => e.payload.ChangeEventHeader.recordIds.length)).toEqual([1, 1, 1]);
    expect(new Set(split.map((e) => e.event.replayId)).size).toBe(1);
  });

  it('when subscribing with -2, a stored id, or -1, then retained events are replayed accordingly', async () => {
    const contact = sf.insert('Contact', { LastName: 'Replay', Email: 'replay@example.com' });
    sf.update('Contact', String(contact.Id), { HasOptedOutOfEmail: true });
    sf.update('Contact', String(contact.Id), { HasOptedOutOfEmail: false });
    const retained = sf.retainedEvents('/data/ContactChangeEvent').map((m) => m.data.event.replayId);
    const all = newClient();
    all.replay['/data/ContactChangeEvent'] = -2;
    await all.subscribe('/data/ContactChangeEvent');
    await waitFor(() => all.eventsOn('/data/ContactChangeEvent').length >= retained.length);
    expect(all.eventsOn('/data/ContactChangeEvent').map((m) => asCdc(m).event.replayId)).toEqual(retained);

    const stored = retained[retained.length - 2] ?? 0;
    const fromId = newClient();
    fromId.replay['/data/ContactChangeEvent'] = stored;
    await fromId.subscribe('/data/ContactChangeEvent');
    await waitFor(() => fromId.eventsOn('/data/ContactChangeEvent').length >= 1);
    expect(fromId.eventsOn('/data/ContactChangeEvent').map((m) => asCdc(m).event.replayId)).toEqual([
      retained[retained.length - 1],
    ]);

    const fresh = newClient();
    fresh.replay['/data/ContactChangeEvent'] = -1;
    await fresh.subscribe('/data/ContactChangeEvent');
    sf.update('Contact', String(contact.Id), { FirstName: 'New' });
    await waitFor(() => fresh.eventsOn('/data/ContactChangeEvent').length >= 1);
    expect(fresh.eventsOn('/data/ContactChangeEvent')).toHaveLength(1);
  });

  it('when the replay id is unknown or expired, then subscribe fails with the documented 400 text', async () => {
    const c = newClient();
    c.replay['/data/LeadChangeEvent'] = 999_999;
    const reply = await c.trySubscribe('/data/LeadChangeEvent');
    expect(reply.successful).toBe(false);
    expect(reply.error).toBe(
      '400::The replayId {999999} you provided was invalid. Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.',
    );
  });

  it('when subscribing to a channel that does not exist, then subscribe fails', async () => {
    const reply = await newClient().trySubscribe('/data/Nope__chn');
    expect(reply.successful).toBe(false);
    expect(reply.error).toBe("400::The channel you requested to subscribe to doesn't exist {/data/Nope__chn}");
  });

  it('when the token is revoked, then the long-poll answers 401::Authentication invalid with reconnect none', async () => {
    const own = sf.issueToken();
    const c = newClient({}, own);
    await c.subscribe('/data/ContactChangeEvent');
    sf.revokeToken(own);
    const failure = await waitFor(() =>
      c.incoming.find((m) => m.channel === '/meta/connect' && m.successful === false),
    );
    expect(failure.error).toBe('401::Authentication invalid');
    expect(failure.advice).toEqual({ reconnect: 'none', interval: 0 });
  });

  it('when the server expires the client, then faye re-handshakes after 403::Unknown client and receives new events', async () => {
    const contact = sf.insert('Contact', { LastName: 'Expire', Email: 'expire@example.com' });
    const c = newClient({ scheme: 'Bearer' });
    await c.subscribe('/data/ContactChangeEvent');
    sf.expireAllClients();
    const unknown = await waitFor(() => c.incoming.find((m) => m.error === '403::Unknown client'));
    expect(unknown.advice).toEqual({ interval: 0, reconnect: 'handshake' });
    // faye handshakes again and re-subscribes every channel by itself.
    const subscribed = (): number =>
      c.incoming.filter((m) => m.channel === '/meta/subscribe' && m.successful === true).length;
    await waitFor(() => subscribed() >= 2);
    sf.update('Contact', String(contact.Id), { HasOptedOutOfEmail: true });
    await waitFor(() => c.eventsOn('/data/ContactChangeEvent').length > 0);
  });

  it('when a platform event is published over REST, then subscribers get EventUuid, CreatedById and the fields', async () => {
    const c = newClient();
    await c.subscribe('/event/OptOut_Change__e');
    const res = await rest('/sobjects/OptOut_Change__e', {
      method: 'POST',
      body: JSON.stringify({ Record_Id__c: '003xx', Opted_Out__c: true, Source__c: 'FLOW' }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as {
      id: string;
      success: boolean;
      errors: Array<{ statusCode: string; message: string }>;
    };
    expect(body.success).toBe(true);
    expect(body.id.startsWith('e00')).toBe(true);
    expect(body.errors[0]?.statusCode).toBe('OPERATION_ENQUEUED');
    const [event] = await waitFor(
      () => c.eventsOn('/event/OptOut_Change__e').length > 0 && c.eventsOn('/event/OptOut_Change__e'),
    );
    const data = event as { payload: Record<string, unknown>; event: { EventUuid: string; replayId: number } };
    expect(data.event.EventUuid).toBe(body.errors[0]?.message);
    expect(data.payload.CreatedById).toBe(sf.users.integration.id);
    expect(data.payload.Opted_Out__c).toBe(true);
    expect(data.payload.Email__c).toBeNull();
  });

  it('when a gap or overflow is injected, then the event carries ids only and no field data', async () => {
    const c = newClient();
    await c.subscribe('/data/ContactChangeEvent');
    sf.injectGap('Contact', ['003Rj00000ABCDEAAA'], 'GAP_UPDATE');
    sf.injectGap('Contact', [], 'GAP_OVERFLOW');
    await waitFor(() => c.eventsOn('/data/ContactChangeEvent').length >= 2);
    const [gap, overflow] = c.eventsOn('/data/ContactChangeEvent').map(asCdc);
    expect(Object.keys(gap?.payload ?? {})).toEqual(['ChangeEventHeader']);
    expect(gap?.payload.ChangeEventHeader.changeType).toBe('GAP_UPDATE');
    expect(overflow?.payload.ChangeEventHeader.recordIds).toEqual(['000000000000000AAA']);
  });

  it('when the retention window is shortened, then an older stored replay id becomes invalid', async () => {
    let clock = Date.parse('2030-01-01T00:00:00Z');
    const timed = await startSalesforceEmulator({
      now: () => new Date(clock),
      retentionMs: 60_000,
      connectTimeoutMs: 300,
    });
    try {
      const contact = timed.insert('Contact', { LastName: 'Old', Email: 'old@example.com' });
      const replayId = timed.retainedEvents('/data/ContactChangeEvent')[0]?.data.event.replayId ?? 0;
      clock += 61_000;
      timed.update('Contact', String(contact.Id), { HasOptedOutOfEmail: true });
      const c = createTestClient(`${timed.url}/cometd/${timed.apiVersion}`, timed.issueToken());
      clients.push(c);
      c.replay['/data/ContactChangeEvent'] = replayId;
      const reply = await c.trySubscribe('/data/ContactChangeEvent');
      expect(reply.error).toContain(`The replayId {${replayId}} you provided was invalid`);
      await c.close();
    } finally {
      await timed.close();
    }
  });

  it('when jsforce streaming subscribes, then it receives the change event', async () => {
    const conn = new jsforce.Connection({ instanceUrl: sf.url, accessToken: token, version: sf.apiVersion });
    const received: unknown[] = [];
    // createClient gives the faye client jsforce builds (OAuth header, long-polling) so the test can disconnect it.
    const client = conn.streaming.createClient([]);
    await new Promise<void>((resolve, reject) => {
      client.subscribe('/data/ContactChangeEvent', (m: unknown) => received.push(m)).then(() => resolve(), reject);
    });
    const clientsBefore = sf.cometdClients().length;
    const contact = sf.insert('Contact', { LastName: 'Jsforce', Email: 'jsf@example.com' });
    await waitFor(() =>
      received.some((m) => asCdc(m).payload.ChangeEventHeader.recordIds.includes(String(contact.Id))),
    );
    // jsforce's typing of the faye client omits disconnect(), which faye has.
    (client as unknown as { disconnect(): void }).disconnect();
    await waitFor(() => sf.cometdClients().length === clientsBefore - 1, { what: 'the jsforce client to disconnect' });
    const created = received.map(asCdc).find((m) => m.payload.ChangeEventHeader.changeType === 'CREATE');
    expect(created?.payload.Email).toBe('jsf@example.com');
    expect(created?.payload.ChangeEventHeader.changedFields).toEqual([]);
  });
});
