// The REST API resources the product uses (REST API Developer Guide): versions, resources, limits, SOQL
// query with nextRecordsUrl paging, sObject describe/get/create/update, sObject Collections and Platform Event
// publishing, Bulk API 2.0 query jobs (bulk-query-api.ts). Every call under /services/data counts against DailyApiRequests. Errors use the documented
// array body [{message, errorCode, fields}]; an invalid token gives 401 INVALID_SESSION_ID.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { ApiRequestLimit } from './api-limits';
import type { ChangeEventPublisher } from './change-events';
import type { OAuthServer, SessionInfo } from './oauth-server';
import type { OrgData, RecordChange, RecordFields, WriteContext } from './org-data';
import type { PlatformEventPublisher } from './platform-events';
import { SalesforceApiError, invalidSession, notFound } from './salesforce-errors';
import { keyPrefixes, isValidSalesforceId } from './salesforce-ids';
import type { FieldDef, SObjectDef } from './sobject-schema';
import { executeQuery } from './soql';
import { bulkQueryRoutes } from './bulk-query-api';

export interface RestContext {
  org: OrgData;
  oauth: OAuthServer;
  cdc: ChangeEventPublisher;
  platformEvents: PlatformEventPublisher;
  queryBatchSize: () => number;
  apiLimit: ApiRequestLimit;
  countApiCall: () => number;
  apiCallCount: () => number;
  deliveredEvents: () => number;
  latencyMs: () => number;
  writeLatencyMs: () => number;
}

export const collectionsMaxRecords = 200;
const recordInputSchema = z.record(z.string(), z.unknown());
const collectionsSchema = z.object({
  allOrNone: z.boolean().optional().default(false),
  records: z.array(recordInputSchema),
});

interface Locals {
  session: SessionInfo;
  version: string;
  callClient?: string;
}

/** Datetimes in REST JSON look like 2024-09-03T09:56:05.000+0000. */
export function restDateTime(iso: string): string {
  return iso.replace(/Z$/, '+0000');
}

function formatValue(f: FieldDef | undefined, value: unknown): unknown {
  if (f?.type === 'datetime' && typeof value === 'string') return restDateTime(value);
  return value;
}

function recordJson(
  def: SObjectDef,
  version: string,
  fields: RecordFields,
  only?: FieldDef[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    attributes: { type: def.name, url: `/services/data/v${version}/sobjects/${def.name}/${String(fields.Id)}` },
  };
  for (const f of only ?? def.fields) out[f.name] = formatValue(f, fields[f.name] ?? null);
  return out;
}

/** `Sforce-Call-Options: client=<id>[, defaultNamespace=...]` ("Call Options Header", REST API guide). */
export function callOptionsClient(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const [k, v] = part.split('=').map((s) => s.trim());
    if (k?.toLowerCase() === 'client' && v) return v;
  }
  return undefined;
}

function locals(res: Response): Locals {
  return res.locals as Locals;
}

function writeContext(res: Response): WriteContext {
  const l = locals(res);
  return {
    userId: l.session.userId,
    enforceAccess: true,
    changeOrigin: l.callClient ? `com/salesforce/api/rest/${l.version};client=${l.callClient}` : '',
  };
}

function describeJson(def: SObjectDef): Record<string, unknown> {
  return {
    name: def.name,
    label: def.label,
    keyPrefix: def.keyPrefix,
    custom: def.custom,
    queryable: true,
    createable: def.writable && !def.readOnlyForUser,
    updateable: def.writable && !def.readOnlyForUser,
    fields: def.fields.map((f) => ({
      name: f.name,
      label: f.label,
      type: f.type,
      custom: f.custom,
      createable: f.createable,
      updateable: f.updateable,
      nillable: f.nillable,
      defaultValue: f.defaultValue ?? null,
      defaultedOnCreate: f.defaultValue !== undefined,
      referenceTo: f.referenceTo ?? [],
      picklistValues: (f.picklistValues ?? []).map((v) => ({ active: true, defaultValue: false, label: v, value: v })),
      length: f.type === 'string' || f.type === 'email' || f.type === 'picklist' ? 255 : 0,
    })),
  };
}

const apexTypes: Record<FieldDef['type'], string> = {
  id: 'Id',
  string: 'String',
  email: 'String',
  boolean: 'Boolean',
  datetime: 'Datetime',
  reference: 'Id',
  picklist: 'String',
  textarea: 'String',
  double: 'Double',
};

/**
 * `GET /query?q=...&columns=true`: the query's column metadata instead of its rows, which the Developer Console and
 * the sf CLI's `data query` read to lay out their table (the shape is that of the CLI's plugin-data, which reads
 * columnMetadata[].columnName / joinColumns / aggregate; the rest of each column follows what orgs answer).
 */
function columnMetadata(def: SObjectDef, fields: FieldDef[], count: boolean): Record<string, unknown> {
  const columns = count
    ? [{ aggregate: true, apexType: 'Integer', booleanType: false, columnName: 'expr0', custom: false, displayName: 'COUNT()', foreignKeyName: null, insertable: false, joinColumns: [], numberType: true, textType: false, updatable: false }]
    : fields.map((f) => ({
        aggregate: false,
        apexType: apexTypes[f.type],
        booleanType: f.type === 'boolean',
        columnName: f.name,
        custom: f.custom,
        displayName: f.name,
        foreignKeyName: null,
        insertable: f.createable,
        joinColumns: [],
        numberType: f.type === 'double',
        textType: ['string', 'email', 'picklist', 'textarea'].includes(f.type),
        updatable: f.updateable,
      }));
  return { columnMetadata: columns, entityName: def.name, groupBy: false, idSelected: fields.some((f) => f.name === 'Id'), keyPrefix: def.keyPrefix };
}

export function restRouter(ctx: RestContext): Router {
  const router = express.Router();
  const cursors = new Map<string, { def: SObjectDef; rows: Record<string, unknown>[] }>();
  const json = express.json({ limit: '10mb', type: () => true });

  router.use('/services/data', (req: Request, res: Response, next: NextFunction) => {
    ctx.countApiCall();
    // The Versions resource does not count against the allocation and carries no Limit Info header. Neither does a
    // request without a valid session: Salesforce cannot tell whose org it is, and answers 401 INVALID_SESSION_ID
    // (below) whatever the org's usage.
    const token = /^(Bearer|OAuth)\s+(.+)$/i.exec((req.get('authorization') ?? '').trim())?.[2];
    const authenticated = token !== undefined && ctx.oauth.validate(token) !== undefined;
    if (req.path !== '/' && authenticated) {
      if (!ctx.apiLimit.take()) {
        res.set('Sforce-Limit-Info', ctx.apiLimit.header());
        res.status(403).json([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
        return;
      }
      res.set('Sforce-Limit-Info', ctx.apiLimit.header());
    }
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    const delay = ctx.latencyMs() + (write ? ctx.writeLatencyMs() : 0);
    if (delay <= 0) next();
    // The org has the whole request before it is slow: a write it received commits even when the caller gives up
    // waiting for the answer (its socket closed meanwhile), so the body is read first, then the answer held.
    else if (write) json(req, res, (error?: unknown) => (error === undefined ? setTimeout(next, delay) : next(error)));
    else setTimeout(next, delay);
  });

  router.get('/services/data', (_req, res) => {
    const versions = [];
    for (let v = 37; v <= 62; v += 1)
      versions.push({ label: `v${v}.0`, url: `/services/data/v${v}.0`, version: `${v}.0` });
    res.json(versions);
  });

  const versioned = express.Router({ mergeParams: true });
  router.use(
    '/services/data/v:version',
    (req: Request, res: Response, next: NextFunction) => {
      const version = String(req.params.version);
      if (!/^\d+\.\d$/.test(version) || Number(version) < 37) {
        res.status(404).json(notFound().toBody());
        return;
      }
      const header = req.get('authorization') ?? '';
      const token = /^(Bearer|OAuth)\s+(.+)$/i.exec(header.trim())?.[2];
      const session = token ? ctx.oauth.validate(token) : undefined;
      if (!session) {
        res.status(401).json(invalidSession().toBody());
        return;
      }
      const l: Locals = { session, version };
      const client = callOptionsClient(req.get('sforce-call-options'));
      if (client) l.callClient = client;
      Object.assign(res.locals, l);
      next();
    },
    json,
    versioned,
  );

  versioned.get('/', (_req, res) => {
    const v = `/services/data/v${locals(res).version}`;
    res.json({ sobjects: `${v}/sobjects`, query: `${v}/query`, limits: `${v}/limits`, composite: `${v}/composite` });
  });

  versioned.get('/limits', (_req, res) => {
    const max = ctx.apiLimit.max;
    res.json({
      DailyApiRequests: { Max: max, Remaining: Math.max(0, max - ctx.apiLimit.used()) },
      DailyDeliveredPlatformEvents: { Max: 50000, Remaining: Math.max(0, 50000 - ctx.deliveredEvents()) },
      MonthlyPlatformEventsUsageEntitlement: { Max: 0, Remaining: 0 },
    });
  });

  const sendPage = (res: Response, locator: string, offset: number): void => {
    const cursor = cursors.get(locator);
    if (!cursor) {
      res.status(400).json([{ message: 'invalid query locator', errorCode: 'INVALID_QUERY_LOCATOR' }]);
      return;
    }
    const size = ctx.queryBatchSize();
    const records = cursor.rows.slice(offset, offset + size);
    const done = offset + size >= cursor.rows.length;
    if (done) cursors.delete(locator);
    res.json({
      totalSize: cursor.rows.length,
      done,
      ...(done ? {} : { nextRecordsUrl: `/services/data/v${locals(res).version}/query/${locator}-${offset + size}` }),
      records,
    });
  };

  versioned.get('/query', (req, res) => {
    const q = z.string().min(1).safeParse(req.query.q);
    if (!q.success) {
      res.status(400).json([{ message: 'A query string has to be specified', errorCode: 'MALFORMED_QUERY' }]);
      return;
    }
    const result = executeQuery(ctx.org, q.data, locals(res).session.userId);
    if (req.query.columns === 'true') {
      res.json(columnMetadata(result.type, result.fields, result.count));
      return;
    }
    if (result.count) {
      res.json({ totalSize: result.rows.length, done: true, records: [] });
      return;
    }
    const rows = result.rows.map((r) => recordJson(result.type, locals(res).version, r, result.fields));
    const locator = ctx.org.ids.next(keyPrefixes.QueryLocator).slice(0, 15);
    cursors.set(locator, { def: result.type, rows });
    sendPage(res, locator, 0);
  });

  versioned.get('/query/:cursor', (req, res) => {
    const match = /^(.+)-(\d+)$/.exec(String(req.params.cursor));
    if (!match?.[1] || !match[2]) {
      res.status(400).json([{ message: 'invalid query locator', errorCode: 'INVALID_QUERY_LOCATOR' }]);
      return;
    }
    sendPage(res, match[1], Number(match[2]));
  });

  bulkQueryRoutes(versioned, { org: ctx.org, session: (res) => ({ userId: locals(res).session.userId, version: locals(res).version }) });

  versioned.get('/sobjects', (_req, res) => {
    const names = ['Contact', 'Lead', 'User', 'Campaign', 'CampaignMember', 'OptOutSync_Settings__mdt'];
    const sobjects = names
      .map((n) => ctx.org.describeFor(n, locals(res).session.userId))
      .filter((d): d is SObjectDef => d !== undefined)
      .map((d) => ({ name: d.name, label: d.label, keyPrefix: d.keyPrefix, custom: d.custom, queryable: true }));
    for (const e of ctx.platformEvents.events) {
      if (ctx.platformEvents.find(e.name))
        sobjects.push({ name: e.name, label: e.name, keyPrefix: 'e00', custom: true, queryable: false });
    }
    res.json({ encoding: 'UTF-8', maxBatchSize: 200, sobjects });
  });

  /** The entity as the session's user sees it: without Read on the object, it does not exist (404). */
  const requireDef = (type: string, res: Response): SObjectDef => {
    const def = ctx.org.describeFor(type, locals(res).session.userId);
    if (!def) throw notFound();
    return def;
  };

  versioned.get('/sobjects/:type/describe', (req, res) => {
    res.json(describeJson(requireDef(String(req.params.type), res)));
  });

  versioned.get('/sobjects/:type', (req, res) => {
    const def = requireDef(String(req.params.type), res);
    res.json({
      objectDescribe: { name: def.name, label: def.label, keyPrefix: def.keyPrefix, custom: def.custom },
      recentItems: [],
    });
  });

  versioned.get('/sobjects/:type/:id', (req, res) => {
    const def = requireDef(String(req.params.type), res);
    const record = ctx.org.get(def.name, String(req.params.id));
    if (!record) throw notFound();
    const fieldsParam =
      typeof req.query.fields === 'string' ? req.query.fields.split(',').map((s) => s.trim()) : undefined;
    const only = fieldsParam?.map((name) => {
      const f = ctx.org.findField(def, name);
      if (!f)
        throw new SalesforceApiError(400, 'INVALID_FIELD', `No such column '${name}' on sobject of type ${def.name}`);
      return f;
    });
    res.json(recordJson(def, locals(res).version, ctx.org.visibleFields(def, record), only));
  });

  versioned.post('/sobjects/:type', (req, res) => {
    const type = String(req.params.type);
    const body = recordInputSchema.parse(req.body ?? {});
    if (type.toLowerCase().endsWith('__e')) {
      const published = ctx.platformEvents.publish(type, body, locals(res).session.userId, ctx.org.now());
      // Asynchronous publishing is reported as OPERATION_ENQUEUED carrying the EventUuid.
      res.status(201).json({
        id: published.id,
        success: true,
        errors: [{ statusCode: 'OPERATION_ENQUEUED', message: published.eventUuid, fields: [] }],
      });
      return;
    }
    if (!ctx.org.describe(type)) throw notFound();
    const change = ctx.org.insert(type, body, writeContext(res));
    publishChanges([change]);
    res.status(201).json({ id: change.id, success: true, errors: [] });
  });

  const publishChanges = (changes: RecordChange[]): void => {
    const tracked = changes.filter((c) => ctx.org.describe(c.entity)?.changeTracked);
    if (tracked.length > 0) ctx.cdc.publishTransaction(tracked);
  };

  versioned.patch('/sobjects/:type/:id', (req, res) => {
    const def = requireDef(String(req.params.type), res);
    // Weak validation ("Conditional Request Headers", REST API guide): the update is refused with 412 Precondition
    // Failed when the record's LastModifiedDate is later than the given HTTP-date (whole seconds); an unreadable
    // date is a 400. The guide names only the statuses, so the 412 carries no body (as HTTP defines it).
    const unmodifiedSince = req.header('If-Unmodified-Since');
    if (unmodifiedSince !== undefined) {
      const since = Date.parse(unmodifiedSince);
      if (Number.isNaN(since)) throw new SalesforceApiError(400, 'INVALID_HEADER_VALUE', `If-Unmodified-Since is not an HTTP-date: ${unmodifiedSince.slice(0, 100)}`);
      const stored = ctx.org.get(def.name, String(req.params.id));
      const lastModified = stored === undefined ? Number.NaN : Date.parse(String(stored.fields.LastModifiedDate));
      if (Math.floor(lastModified / 1000) > Math.floor(since / 1000)) {
        res.status(412).end();
        return;
      }
    }
    const change = ctx.org.prepareUpdate(
      def.name,
      String(req.params.id),
      recordInputSchema.parse(req.body ?? {}),
      writeContext(res),
    );
    ctx.org.apply(change);
    publishChanges([change]);
    res.status(204).end();
  });

  const collectionError = (e: unknown): { statusCode: string; message: string; fields: string[] } => {
    if (e instanceof SalesforceApiError) return { statusCode: e.errorCode, message: e.message, fields: e.fields ?? [] };
    throw e;
  };

  // A failed record's SaveResult carries its id only when the id was a valid one: the documented example of a
  // MALFORMED_ID failure has no id key at all, while a valid record rolled back by allOrNone keeps its id.
  const resultId = (id: string | undefined): { id?: string } => (id !== undefined && isValidSalesforceId(id) ? { id } : {});

  versioned.patch('/composite/sobjects', (req, res) => {
    const body = collectionsSchema.parse(req.body);
    if (body.records.length > collectionsMaxRecords) {
      throw new SalesforceApiError(
        400,
        'EXCEEDED_ID_LIMIT',
        'record limit reached. cannot submit more than 200 records into this call',
      );
    }
    const context = writeContext(res);
    // One call, one transaction, one instant (see OrgData.atOneInstant).
    const results = ctx.org.atOneInstant(() => body.records.map((record) => {
      const attrs = z.object({ type: z.string() }).safeParse(record.attributes);
      const id = typeof record.id === 'string' ? record.id : typeof record.Id === 'string' ? record.Id : undefined;
      try {
        if (!attrs.success) throw new SalesforceApiError(400, 'INVALID_TYPE', 'Must send a concrete entity type.', []);
        if (!id || !isValidSalesforceId(id))
          throw new SalesforceApiError(
            400,
            'MALFORMED_ID',
            `${attrs.data.type} ID: id value of incorrect type: ${id ?? ''}`,
            ['Id'],
          );
        const fields = Object.fromEntries(Object.entries(record).filter(([k]) => k !== 'id'));
        return { id, change: ctx.org.prepareUpdate(attrs.data.type, id, fields, context) };
      } catch (e) {
        return { id, error: collectionError(e) };
      }
    }));
    const failed = results.some((r) => 'error' in r);
    if (body.allOrNone && failed) {
      res.json(
        results.map((r) => ({
          ...resultId(r.id),
          success: false,
          errors:
            'error' in r && r.error
              ? [r.error]
              : [
                  {
                    statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
                    message:
                      'Record rolled back because not all records were valid and the request was using AllOrNone header',
                    fields: [],
                  },
                ],
        })),
      );
      return;
    }
    const applied: RecordChange[] = [];
    const out = results.map((r) => {
      if ('change' in r && r.change) {
        ctx.org.apply(r.change);
        applied.push(r.change);
        return { id: r.change.id, success: true, errors: [] };
      }
      return { ...resultId(r.id), success: false, errors: 'error' in r && r.error ? [r.error] : [] };
    });
    publishChanges(applied);
    res.json(out);
  });

  versioned.post('/composite/sobjects', (req, res) => {
    const body = collectionsSchema.parse(req.body);
    if (body.records.length > collectionsMaxRecords) {
      throw new SalesforceApiError(
        400,
        'EXCEEDED_ID_LIMIT',
        'record limit reached. cannot submit more than 200 records into this call',
      );
    }
    // Inserts are validated and committed one by one: allOrNone is not emulated for creates (the product
    // only creates records in tests and seeds).
    const context = writeContext(res);
    const created: RecordChange[] = [];
    const out = body.records.map((record) => {
      try {
        const attrs = z.object({ type: z.string() }).parse(record.attributes);
        const change = ctx.org.insert(attrs.type, record, context);
        created.push(change);
        return { id: change.id, success: true, errors: [] as unknown[] };
      } catch (e) {
        if (e instanceof z.ZodError)
          return {
            id: null,
            success: false,
            errors: [{ statusCode: 'INVALID_TYPE', message: 'Must send a concrete entity type.', fields: [] }],
          };
        return { id: null, success: false, errors: [collectionError(e)] };
      }
    });
    publishChanges(created);
    res.json(out);
  });

  versioned.use((_req: Request, res: Response) => {
    res.status(404).json(notFound().toBody());
  });

  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (error instanceof SalesforceApiError) {
      res.status(error.status).json(error.toBody());
      return;
    }
    if (error instanceof z.ZodError || (error instanceof SyntaxError && 'body' in error)) {
      res.status(400).json([{ message: 'The request body is malformed', errorCode: 'JSON_PARSER_ERROR' }]);
      return;
    }
    next(error);
  });
  return router;
}
