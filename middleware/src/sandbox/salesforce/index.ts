// A Salesforce org in a box for tests, the demo and benchmarks: OAuth token endpoint, REST (query, sObjects,
// Collections, limits, Platform Event publish), CometD with replay and Salesforce's error advice, Change Data
// Capture on every Contact/Lead write, and a control API (in-process methods and HTTP under /__sandbox/*) for
// fault injection. Follows the vendor documents and fixtures only; imports nothing from the product.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { BayeuxServer, type BayeuxClientInfo } from './bayeux-server';
import { ChangeEventPublisher, type CustomChannelConfig, type GapChangeType } from './change-events';
import { EventBus, defaultRetentionMs, type ChannelMessage, type DeliveryTiming } from './event-bus';
import { OAuthServer } from './oauth-server';
import {
  OrgData,
  settingsTypeName,
  type EmulatedUser,
  type RecordChange,
  type FieldAccess,
  type ObjectAccess,
  type RecordFault,
  type RecordFields,
  type StoredRecord,
} from './org-data';
import { PlatformEventPublisher, optOutChangeEvent, type PlatformEventConfig } from './platform-events';
import { restRouter } from './rest-api';
import { keyPrefixes } from './salesforce-ids';
import type { CustomFieldSpec, FieldValue } from './sobject-schema';
import { executeQuery } from './soql';
import { controlRouter } from './control-api';
import { ApiRequestLimit } from './api-limits';
import { salesforceIndexPage } from './index-page';
import { PubSubEmulatorServer, knownPlatformEventFieldTypes } from './pubsub';

export type {
  ChannelMessage,
  DeliveryTiming,
  CustomChannelConfig,
  CustomFieldSpec,
  EmulatedUser,
  FieldValue,
  GapChangeType,
  PlatformEventConfig,
  FieldAccess,
  ObjectAccess,
  RecordFault,
  RecordFields,
};
export { replayInvalidError } from './bayeux-server';
export { applyOrgScenario, isOrgScenario, orgScenarios, type OrgScenario } from './scenarios';
export { generateRsaKeyPair, signJwtAssertion } from './test-keys';

export interface SalesforceEmulatorOptions {
  /** Version the emulator advertises and uses in changeOrigin of control-API writes. Default '62.0'. */
  apiVersion?: string;
  /** Connected app consumer key / secret. */
  clientId?: string;
  clientSecret?: string;
  /** SPKI PEM of the certificate uploaded to the connected app (JWT bearer flow). */
  jwtPublicKeyPem?: string;
  /** Users of the org; default an integration user and an admin user. The first is the integration user. */
  users?: Array<{ username: string; name?: string; email?: string }>;
  /** CometD /meta/connect hold time (Salesforce: 110 s). */
  connectTimeoutMs?: number;
  /** A CometD client that does not reconnect within this time is expired (Salesforce: 40 s). */
  clientExpiryMs?: number;
  /** Event retention (Salesforce: 72 h). */
  retentionMs?: number;
  /** Records per query page (Salesforce: 2000). */
  queryBatchSize?: number;
  now?: () => Date;
  /** Whether the package is installed: its custom fields, settings type, channel and event exist. Default true. */
  customFieldsInstalled?: boolean;
  /** Extra custom fields per entity, e.g. { Contact: [{ name: 'Custom_Opt_Out__c', type: 'boolean' }] }. */
  customFields?: Record<string, CustomFieldSpec[]>;
  /** Fields whose history the org tracks (ContactHistory/LeadHistory rows), e.g. { Contact: ['HasOptedOutOfEmail'] }. None by default, as in a new org. */
  fieldHistory?: Partial<Record<'Contact' | 'Lead', string[]>>;
  /** Custom CDC channels; default OptOutSync__chn with Contact and Lead, Email enriched. */
  customChannels?: CustomChannelConfig[];
  /** Platform events; default OptOut_Change__e (part of the package). */
  platformEvents?: PlatformEventConfig[];
  /** Fields of the settings record `Default` (package installed only). */
  settings?: Record<string, FieldValue>;
  /** Require the BAYEUX_BROWSER cookie on every request after the handshake, as Salesforce does. Default true. */
  requireCookies?: boolean;
  /** The org's daily API request allocation (default 15,000, a Developer Edition's). */
  dailyApiRequestsMax?: number;
  /** Refuse calls past the allocation with REQUEST_LIMIT_EXCEEDED. Default false (a healthy org far from its limit). */
  enforceDailyApiLimit?: boolean;
  /** Session timeout, counted from a session's last use (Salesforce default: 2 hours). */
  tokenTtlMs?: number;
  port?: number;
  host?: string;
  /** The Pub/Sub API (gRPC over TLS) beside CometD, from the same event bus; false leaves it off. */
  pubSub?: false | { port?: number; keepaliveMs?: number };
}

export interface RequestLogEntry {
  at: string;
  method: string;
  path: string;
  status: number;
  apiCall: boolean;
  durationMs: number;
}

export interface WriteOptions {
  asUserId?: string;
  /** As if the write carried `Sforce-Call-Options: client=<id>`. */
  clientId?: string;
}

export interface SalesforceEmulator {
  url: string;
  apiVersion: string;
  orgId: string;
  clientId: string;
  clientSecret: string;
  users: { integration: EmulatedUser; admin: EmulatedUser; all: EmulatedUser[] };
  close(): Promise<void>;
  insert(type: string, fields: Record<string, unknown>, asUserId?: string): RecordFields;
  update(type: string, id: string, fields: Record<string, unknown>, opts?: WriteOptions): RecordFields;
  /** One transaction: identical changes are merged into one change event. */
  updateMany(
    type: string,
    updates: Array<{ id: string; fields: Record<string, unknown> }>,
    opts?: WriteOptions,
  ): RecordFields[];
  get(type: string, id: string): RecordFields | undefined;
  findByEmail(email: string): StoredRecord[];
  query(soql: string): RecordFields[];
  seed(data: Record<string, Array<Record<string, unknown>>>): Record<string, string[]>;
  issueToken(userId?: string): string;
  revokeToken(token: string): void;
  revokeAllTokens(): void;
  expireAllTokens(): void;
  expireAllClients(): void;
  cometdClients(): BayeuxClientInfo[];
  injectGap(type: string, recordIds: string[], changeType?: GapChangeType): void;
  publishPlatformEvent(
    name: string,
    payload: Record<string, unknown>,
    asUserId?: string,
  ): { id: string; replayId: number; eventUuid: string };
  setRetention(ms: number): void;
  purgeEvents(): void;
  retainedEvents(channel: string): ChannelMessage[];
  setCustomMetadata(type: string, developerName: string, fields: Record<string, FieldValue>): void;
  setPackageInstalled(installed: boolean): void;
  addCustomField(type: string, spec: CustomFieldSpec): void;
  failNextWrites(recordId: string, errorCode: string, times?: number): void;
  /** A lasting per-record refusal (validation rule, required field, deleted, read-only); null clears it. */
  setRecordFault(recordId: string, fault: RecordFault | null): void;
  /** Converts a Lead (by the admin user): it stays queryable, and updates to it are refused from then on. */
  convertLead(id: string): RecordFields;
  injectBusy(times: number): void;
  /**
   * Runs `happen` (a change someone else makes in the org) just before the next request that `matches` is served:
   * puts a concurrent edit between a client's read and its write, deterministically.
   */
  beforeNextRequest(matches: (request: { method: string; path: string }) => boolean, happen: () => void | Promise<void>): void;
  setLatency(ms: number): void;
  /**
   * Holds every POST, PATCH and DELETE under /services/data (record writes, job creation) this long before it
   * is applied: an org whose update triggers and flows are slow. A client that gives up first leaves a write that
   * still commits.
   */
  setWriteLatency(ms: number): void;
  /** Field-level security of the integration user: 'hidden' (no Read), 'read' (no Edit) or 'edit'. */
  setFieldAccess(type: string, field: string, access: FieldAccess): void;
  /** Setup > Set History Tracking: track these fields of Contact or Lead from now on ([] stops). */
  trackFieldHistory(type: 'Contact' | 'Lead', fields: string[]): void;
  /** Object permissions of the integration user: 'none' (no Read), 'read' (no Edit) or 'edit'. */
  setObjectAccess(type: string, access: ObjectAccess): void;
  /** Delays event delivery (all channels, per channel, with jitter) as a loaded org does; zero is at once. */
  setEventDelivery(timing: Partial<DeliveryTiming>): DeliveryTiming;
  /** Events published but not yet delivered to subscribers. */
  pendingEventCount(): number;
  /** Changes the session timeout (inactivity) of the org. */
  setSessionTimeout(ms: number): void;
  /** Changes the daily API allocation: its maximum, whether it is enforced, calls others made just now. */
  setApiLimit(limit: { max?: number; enforce?: boolean; addUsage?: number }): void;
  apiUsage(): { used: number; max: number; enforced: boolean };
  setCometdTimeouts(t: { connectTimeoutMs?: number; clientExpiryMs?: number }): void;
  apiCallCount(): number;
  deliveredEventCount(): number;
  requestLog: RequestLogEntry[];
  app: Express;
  /** The Pub/Sub API server; listening (endpoint and CA set) once startSalesforceEmulator returned. */
  pubSub: PubSubEmulatorServer;
  /** `127.0.0.1:<port>` of the Pub/Sub API, null when it is off. */
  pubSubEndpoint: string | null;
  /** PEM of the self-signed certificate the Pub/Sub API presents (clients trust it as their root). */
  pubSubCaPem: string | null;
}

export const defaultCustomChannels: CustomChannelConfig[] = [
  { name: 'OptOutSync__chn', members: ['Contact', 'Lead'], enrichedFields: { Contact: ['Email'], Lead: ['Email'] } },
];

/** Builds the emulator's express app and state without listening (the URL is set once listening). */
export function createSalesforceEmulatorApp(opts: SalesforceEmulatorOptions = {}): {
  app: Express;
  emulator: SalesforceEmulator;
} {
  const now = opts.now ?? (() => new Date());
  const apiVersion = opts.apiVersion ?? '62.0';
  const clientId = opts.clientId ?? '3MVG9emulatorConsumerKey';
  const clientSecret = opts.clientSecret ?? 'emulator-consumer-secret';
  let packageInstalled = opts.customFieldsInstalled ?? true;
  const org = new OrgData({
    now,
    packageInstalled,
    customFields: opts.customFields ?? {},
    users: [],
    ...(opts.fieldHistory !== undefined ? { fieldHistory: opts.fieldHistory } : {}),
  });
  const userSpecs = opts.users ?? [
    { username: 'integration@optoutsync.example', name: 'Integration User' },
    { username: 'admin@optoutsync.example', name: 'Admin User' },
  ];
  const users: EmulatedUser[] = userSpecs.map((u) => ({
    id: org.ids.next(keyPrefixes.User),
    username: u.username,
    name: u.name ?? u.username,
    email: u.email ?? u.username,
  }));
  for (const u of users) {
    org.users.push(u);
    org.setUserRecord(u);
  }
  const integration = users[0];
  const admin = users[1] ?? users[0];
  if (!integration || !admin) throw new Error('the emulator needs at least one user');
  // Object and field permissions set through the control API are those of the integration user's profile.
  org.restrictedUserId = integration.id;

  let url = 'http://127.0.0.1';
  const bus = new EventBus(now, opts.retentionMs ?? defaultRetentionMs);
  const customChannels = opts.customChannels ?? defaultCustomChannels;
  // The package's own custom channel disappears with the package; other configured channels stay.
  const channelActive = (c: CustomChannelConfig): boolean => packageInstalled || c.name !== 'OptOutSync__chn';
  const cdc = new ChangeEventPublisher(bus, customChannels, channelActive);
  const platformEvents = new PlatformEventPublisher(
    bus,
    opts.platformEvents ?? [optOutChangeEvent],
    () => packageInstalled,
    org.ids,
  );
  const oauth = new OAuthServer({
    clientId,
    clientSecret,
    ...(opts.jwtPublicKeyPem ? { jwtPublicKeyPem: opts.jwtPublicKeyPem } : {}),
    audiences: () => [url, 'https://login.salesforce.com', 'https://test.salesforce.com'],
    instanceUrl: () => url,
    orgId: org.orgId,
    users,
    clientCredentialsUserId: integration.id,
    now,
    ...(opts.tokenTtlMs !== undefined ? { tokenTtlMs: opts.tokenTtlMs } : {}),
  });
  const channelExists = (channel: string): boolean => {
    if (
      channel === '/data/ChangeEvents' ||
      channel === '/data/ContactChangeEvent' ||
      channel === '/data/LeadChangeEvent'
    )
      return true;
    if (channel.startsWith('/data/'))
      return customChannels.some((c) => `/data/${c.name}` === channel && channelActive(c));
    return platformEvents.channelExists(channel);
  };
  const bayeux = new BayeuxServer({
    bus,
    authenticate: (token) => {
      const session = oauth.validate(token);
      return session ? { userId: session.userId } : undefined;
    },
    channelExists,
    connectTimeoutMs: opts.connectTimeoutMs ?? 110_000,
    clientExpiryMs: opts.clientExpiryMs ?? 40_000,
    requireCookies: opts.requireCookies ?? true,
    visibleTo: (userId, message) => withoutHiddenFields(org, userId, message),
  });

  const pubSub = new PubSubEmulatorServer({
    bus,
    orgId: org.orgId,
    instanceUrl: () => url,
    authenticate: (token) => {
      const session = oauth.validate(token);
      return session ? { userId: session.userId } : undefined;
    },
    channelExists,
    entityFields: (entity) => {
      const def = org.describe(entity);
      return def?.changeTracked ? def.fields.map((f) => ({ name: f.name, type: f.type })) : undefined;
    },
    channelMembers: (channel) => customChannels.find((c) => `/data/${c.name}` === channel)?.members ?? [],
    platformEventFields: (name) => {
      const config = platformEvents.find(name);
      return config ? (config.fields ?? []) : undefined;
    },
    platformEventFieldTypes: knownPlatformEventFieldTypes,
    publishPlatformEvent: (name, fields, userId) => platformEvents.publish(name, fields, userId, now()),
    ...(opts.pubSub ? opts.pubSub : {}),
  });

  let apiCalls = 0;
  let latencyMs = 0;
  let writeLatencyMs = 0;
  const apiLimit = new ApiRequestLimit(now, opts.dailyApiRequestsMax ?? 15_000, opts.enforceDailyApiLimit ?? false);
  let queryBatchSize = opts.queryBatchSize ?? 2000;
  const requestLog: RequestLogEntry[] = [];

  const settingsDefaults = (): Record<string, FieldValue> => ({
    Opt_Out_Field__c: 'HasOptedOutOfEmail',
    Push_Enabled__c: true,
    Pull_Enabled__c: true,
    Resubscribe_On_Opt_In__c: false,
    Hard_Bounce_Opts_Out__c: true,
    Scope_AC_Tag__c: null,
    Scope_Campaign_Ids__c: null,
    Event_Mode__c: 'CDC',
    Integration_Username__c: integration.username,
    R5_Subscribe_Sources__c: null,
    ...opts.settings,
  });
  if (packageInstalled) org.setCustomMetadata(settingsTypeName, 'Default', settingsDefaults());

  const contextFor = (o: WriteOptions = {}) => ({
    userId: o.asUserId ?? integration.id,
    changeOrigin: o.clientId ? `com/salesforce/api/rest/${apiVersion};client=${o.clientId}` : '',
  });
  const publish = (changes: RecordChange[]): void => {
    const tracked = changes.filter((c) => org.describe(c.entity)?.changeTracked);
    if (tracked.length > 0) cdc.publishTransaction(tracked);
  };

  const app = express();
  app.disable('x-powered-by');
  // Salesforce serves `//services/data/...` as `/services/data/...`; the sf CLI builds such URLs when the instance
  // URL ends with a slash.
  app.use((req, _res, next) => {
    if (req.url.startsWith('//')) req.url = req.url.replace(/^\/+/, '/');
    next();
  });
  const interleaved: { matches: (request: { method: string; path: string }) => boolean; happen: () => void | Promise<void> }[] = [];
  app.use((req, _res, next) => {
    const due = interleaved.findIndex((i) => i.matches({ method: req.method, path: req.originalUrl }));
    if (due < 0) return next();
    Promise.resolve(interleaved.splice(due, 1)[0]!.happen()).then(() => next(), next);
  });
  app.use((req, res, next) => {
    const started = Date.now();
    res.on('finish', () => {
      requestLog.push({
        at: new Date(started).toISOString(),
        method: req.method,
        path: req.originalUrl,
        status: res.statusCode,
        apiCall: req.originalUrl.startsWith('/services/data'),
        durationMs: Date.now() - started,
      });
      if (requestLog.length > 10_000) requestLog.splice(0, requestLog.length - 10_000);
    });
    next();
  });

  const emulator: SalesforceEmulator = {
    get url() {
      return url;
    },
    set url(value: string) {
      url = value;
    },
    apiVersion,
    orgId: org.orgId,
    clientId,
    clientSecret,
    users: { integration, admin, all: users },
    close: async () => {
      bus.stop();
      bayeux.close();
      await pubSub.close();
    },
    insert: (type, fields, asUserId) => {
      const change = org.insert(type, fields, contextFor(asUserId ? { asUserId } : {}));
      publish([change]);
      return { ...change.after };
    },
    update: (type, id, fields, o) => {
      const change = org.prepareUpdate(type, id, fields, contextFor(o));
      org.apply(change);
      publish([change]);
      return { ...change.after };
    },
    updateMany: (type, updates, o) => {
      const changes = updates.map((u) => org.prepareUpdate(type, u.id, u.fields, contextFor(o)));
      for (const c of changes) org.apply(c);
      publish(changes);
      return changes.map((c) => ({ ...c.after }));
    },
    get: (type, id) => {
      const def = org.describe(type);
      const record = org.get(type, id);
      return def && record ? org.visibleFields(def, record) : undefined;
    },
    findByEmail: (email) => org.findByEmail(email),
    query: (soql) => executeQuery(org, soql).rows,
    seed: (data) => {
      const out: Record<string, string[]> = {};
      for (const [type, records] of Object.entries(data)) {
        out[type] = records.map((r) => emulator.insert(type, r)).map((r) => String(r.Id));
      }
      return out;
    },
    issueToken: (userId) => oauth.issue(userId ?? integration.id).token,
    revokeToken: (token) => {
      oauth.revoke(token);
      bayeux.recheckTokens();
      pubSub.recheckTokens();
    },
    revokeAllTokens: () => {
      oauth.revokeAll();
      bayeux.recheckTokens();
      pubSub.recheckTokens();
    },
    expireAllTokens: () => {
      oauth.expireAll();
      bayeux.recheckTokens();
      pubSub.recheckTokens();
    },
    expireAllClients: () => bayeux.expireAllClients(),
    cometdClients: () => bayeux.clientInfo(),
    injectGap: (type, recordIds, changeType = 'GAP_UPDATE') => {
      const def = org.requireType(type);
      cdc.publishGap(def.name, changeType, recordIds, integration.id, now());
    },
    publishPlatformEvent: (name, payload, asUserId) =>
      platformEvents.publish(name, payload, asUserId ?? integration.id, now()),
    setRetention: (ms) => {
      bus.retentionMs = ms;
    },
    purgeEvents: () => bus.purgeAll(),
    retainedEvents: (channel) => bus.retained(channel).map((e) => e.message),
    setCustomMetadata: (type, developerName, fields) => {
      org.setCustomMetadata(type, developerName, fields);
    },
    setPackageInstalled: (installed) => {
      packageInstalled = installed;
      org.packageInstalled = installed;
      org.refreshFieldDefinitions();
      if (installed && !org.all(settingsTypeName).some((r) => r.fields.DeveloperName === 'Default')) {
        org.setCustomMetadata(settingsTypeName, 'Default', settingsDefaults());
      }
    },
    addCustomField: (type, spec) => org.addCustomField(type, spec),
    failNextWrites: (recordId, errorCode, times = 1) => org.failNextWrites(recordId, errorCode, times),
    setRecordFault: (recordId, fault) => org.setRecordFault(recordId, fault),
    convertLead: (id) => {
      const change = org.convertLead(id, contextFor({ asUserId: admin.id }));
      org.apply(change);
      publish([change]);
      return { ...change.after };
    },
    injectBusy: (times) => bayeux.injectBusy(times),
    beforeNextRequest: (matches, happen) => void interleaved.push({ matches, happen }),
    setLatency: (ms) => {
      latencyMs = ms;
    },
    setWriteLatency: (ms) => {
      writeLatencyMs = ms;
    },
    setCometdTimeouts: (t) => bayeux.setTimeouts(t),
    setEventDelivery: (timing) => bus.setDeliveryTiming(timing),
    pendingEventCount: () => bus.pendingCount(),
    setFieldAccess: (type, field, access) => org.setFieldAccess(type, field, access),
    trackFieldHistory: (type, fields) => org.trackFieldHistory(type, fields),
    setObjectAccess: (type, access) => org.setObjectAccess(type, access),
    setSessionTimeout: (ms) => {
      oauth.setSessionTimeout(ms);
      bayeux.recheckTokens();
    },
    setApiLimit: ({ max, enforce, addUsage }) => {
      if (max !== undefined) apiLimit.max = max;
      if (enforce !== undefined) apiLimit.enforced = enforce;
      if (addUsage !== undefined) apiLimit.add(addUsage);
    },
    apiUsage: () => ({ used: apiLimit.used(), max: apiLimit.max, enforced: apiLimit.enforced }),
    apiCallCount: () => apiCalls,
    deliveredEventCount: () => bayeux.totalDelivered,
    requestLog,
    app,
    pubSub,
    pubSubEndpoint: null,
    pubSubCaPem: null,
  };

  app.use(oauth.router());
  // The OpenID Connect UserInfo endpoint (Salesforce Help "Query for User Information"): the current user of the
  // access token, with the API endpoints it can talk to. The sf CLI's access-token login asks it for user_id, then
  // reads the User record for the username. An unusable token answers 403 Bad_OAuth_Token (as the identity URL does).
  app.all('/services/oauth2/userinfo', (req, res) => {
    const header = req.get('authorization') ?? '';
    const token = /^(Bearer|OAuth)\s+(.+)$/i.exec(header.trim())?.[2] ?? (typeof req.query.access_token === 'string' ? req.query.access_token : undefined);
    const session = token ? oauth.validate(token) : undefined;
    const user = session ? users.find((u) => u.id === session.userId) : undefined;
    if (!user) {
      res.status(403).type('text/plain').send('Bad_OAuth_Token');
      return;
    }
    const [givenName, ...family] = user.name.split(' ');
    const v = '{version}';
    res.json({
      sub: `${url}/id/${org.orgId}/${user.id}`,
      user_id: user.id,
      organization_id: org.orgId,
      preferred_username: user.username,
      nickname: user.username.split('@')[0],
      name: user.name,
      email: user.email,
      email_verified: true,
      given_name: givenName ?? '',
      family_name: family.join(' '),
      zoneinfo: 'Etc/UTC',
      active: true,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_US',
      utcOffset: 0,
      is_salesforce_integration_user: user.id === integration.id,
      urls: {
        rest: `${url}/services/data/v${v}/`,
        sobjects: `${url}/services/data/v${v}/sobjects/`,
        query: `${url}/services/data/v${v}/query/`,
        users: `${url}/services/data/v${v}/chatter/users`,
        custom_domain: url,
      },
    });
  });
  app.get('/id/:orgId/:userId', (req, res) => {
    const user = users.find((u) => u.id === req.params.userId);
    if (!user) {
      res.status(404).json([{ message: 'Bad_Id', errorCode: 'NOT_FOUND' }]);
      return;
    }
    res.json({
      id: `${url}/id/${org.orgId}/${user.id}`,
      user_id: user.id,
      organization_id: org.orgId,
      username: user.username,
      display_name: user.name,
      email: user.email,
    });
  });
  app.post(
    ['/cometd', '/cometd/:version', '/cometd/:version/*rest'],
    express.json({ limit: '32kb', type: () => true }),
    (req, res, next) => {
      const version = typeof req.params.version === 'string' ? req.params.version : undefined;
      bayeux.handle(req, res, version).catch(next);
    },
  );
  app.use(
    restRouter({
      org,
      oauth,
      cdc,
      platformEvents,
      queryBatchSize: () => queryBatchSize,
      apiLimit,
      countApiCall: () => (apiCalls += 1),
      apiCallCount: () => apiCalls,
      deliveredEvents: () => bayeux.totalDelivered,
      latencyMs: () => latencyMs,
      writeLatencyMs: () => writeLatencyMs,
    }),
  );
  app.use('/__sandbox', controlRouter(emulator, { setQueryBatchSize: (n) => (queryBatchSize = n) }));
  app.get('/', (_req, res) => void res.type('html').send(salesforceIndexPage(emulator.url, apiVersion)));
  return { app, emulator };
}

/**
 * "Change Data Capture respects your org's field-level security settings. Delivered events contain only the fields
 * that a subscribed user is allowed to view" (CDC guide, "Field-Level Security"): the hidden fields leave the body
 * and the header's field lists of what that user receives.
 */
function withoutHiddenFields(org: OrgData, userId: string, message: ChannelMessage): ChannelMessage {
  const payload = message.data.payload;
  const header = payload.ChangeEventHeader as { entityName?: unknown; changedFields?: unknown; nulledFields?: unknown; diffFields?: unknown } | undefined;
  if (!header || typeof header.entityName !== 'string') return message;
  const hidden = org.hiddenFields(header.entityName, userId);
  if (hidden.size === 0) return message;
  for (const field of hidden) delete payload[field];
  for (const list of ['changedFields', 'nulledFields', 'diffFields'] as const) {
    const value = header[list];
    if (Array.isArray(value)) header[list] = value.filter((f) => typeof f !== 'string' || !hidden.has(f));
  }
  return message;
}

export async function startSalesforceEmulator(opts: SalesforceEmulatorOptions = {}): Promise<SalesforceEmulator> {
  const { app, emulator } = createSalesforceEmulatorApp(opts);
  const server = http.createServer(app);
  // Long-polls are held up to connectTimeoutMs; keep Node from cutting them.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  emulator.url = `http://${host}:${address.port}`;
  if (opts.pubSub !== false) {
    const { port, certificate } = await emulator.pubSub.start();
    emulator.pubSubEndpoint = `${opts.host ?? '127.0.0.1'}:${port}`;
    emulator.pubSubCaPem = certificate.certificatePem;
  }
  const closeState = emulator.close;
  emulator.close = async () => {
    await closeState();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return emulator;
}
