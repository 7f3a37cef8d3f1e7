// The emulator's control API over HTTP (JSON bodies), for emulators run as separate processes by the demo and
// the chaos test. Each route maps to one SalesforceEmulator method. Not a Salesforce API: no auth, loopback use.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { SalesforceEmulator } from './index';
import { SalesforceApiError } from './salesforce-errors';
import { applyOrgScenario, isOrgScenario, orgScenarios } from './scenarios';

const fieldsSchema = z.record(z.string(), z.unknown());
const fieldValuesSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));
const writeOptionsSchema = z.object({ asUserId: z.string().optional(), clientId: z.string().optional() });

function param(req: Request, name: string): string {
  return String(req.params[name]);
}

function clean<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function controlRouter(emulator: SalesforceEmulator, extra: { setQueryBatchSize: (n: number) => void }): Router {
  const router = express.Router();
  router.use(express.json({ limit: '20mb' }));

  router.get('/state', (_req, res) => {
    res.json({
      url: emulator.url,
      apiVersion: emulator.apiVersion,
      orgId: emulator.orgId,
      clientId: emulator.clientId,
      users: emulator.users,
      apiCalls: emulator.apiCallCount(),
      deliveredEvents: emulator.deliveredEventCount(),
      pendingEvents: emulator.pendingEventCount(),
      cometdClients: emulator.cometdClients(),
    });
  });
  router.get('/request-log', (_req, res) => {
    res.json(emulator.requestLog);
  });
  router.post('/records/:type', (req, res) => {
    const body = z.object({ fields: fieldsSchema, asUserId: z.string().optional() }).parse(req.body);
    res.status(201).json(emulator.insert(param(req, 'type'), body.fields, body.asUserId));
  });
  router.post('/seed', (req, res) => {
    res.status(201).json(emulator.seed(z.record(z.string(), z.array(fieldsSchema)).parse(req.body)));
  });
  router.patch('/records/:type/:id', (req, res) => {
    const body = writeOptionsSchema.extend({ fields: fieldsSchema }).parse(req.body);
    res.json(
      emulator.update(
        param(req, 'type'),
        param(req, 'id'),
        body.fields,
        clean({ asUserId: body.asUserId, clientId: body.clientId }),
      ),
    );
  });
  router.patch('/records/:type', (req, res) => {
    const body = writeOptionsSchema
      .extend({ updates: z.array(z.object({ id: z.string(), fields: fieldsSchema })) })
      .parse(req.body);
    res.json(
      emulator.updateMany(
        param(req, 'type'),
        body.updates,
        clean({ asUserId: body.asUserId, clientId: body.clientId }),
      ),
    );
  });
  router.get('/records/:type/:id', (req, res) => {
    const record = emulator.get(param(req, 'type'), param(req, 'id'));
    if (!record) res.status(404).json({ error: 'not found' });
    else res.json(record);
  });
  router.get('/records', (req, res) => {
    const email = z.string().parse(req.query.email);
    res.json(emulator.findByEmail(email));
  });
  router.get('/query', (req, res) => {
    res.json(emulator.query(z.string().parse(req.query.q)));
  });
  router.post('/tokens', (req, res) => {
    const body = z.object({ userId: z.string().optional() }).parse(req.body ?? {});
    res.status(201).json({ access_token: emulator.issueToken(body.userId) });
  });
  router.post('/tokens/revoke-all', (_req, res) => {
    emulator.revokeAllTokens();
    res.status(204).end();
  });
  router.post('/tokens/expire-all', (_req, res) => {
    emulator.expireAllTokens();
    res.status(204).end();
  });
  router.post('/cometd/expire-all', (_req, res) => {
    emulator.expireAllClients();
    res.status(204).end();
  });
  router.post('/pubsub/drop-all', (_req, res) => {
    emulator.pubSub.dropAllStreams();
    res.status(204).end();
  });
  router.post('/cometd/busy', (req, res) => {
    emulator.injectBusy(z.object({ times: z.number().int().min(0) }).parse(req.body).times);
    res.status(204).end();
  });
  router.post('/cometd/timeouts', (req, res) => {
    const body = z
      .object({
        connectTimeoutMs: z.number().int().positive().optional(),
        clientExpiryMs: z.number().int().positive().optional(),
      })
      .parse(req.body);
    emulator.setCometdTimeouts(clean(body));
    res.status(204).end();
  });
  router.post('/gap', (req, res) => {
    const body = z
      .object({
        type: z.string(),
        recordIds: z.array(z.string()).default([]),
        changeType: z
          .enum(['GAP_CREATE', 'GAP_UPDATE', 'GAP_DELETE', 'GAP_UNDELETE', 'GAP_OVERFLOW'])
          .default('GAP_UPDATE'),
      })
      .parse(req.body);
    emulator.injectGap(body.type, body.recordIds, body.changeType);
    res.status(204).end();
  });
  router.post('/platform-events/:name', (req, res) => {
    const body = z.object({ fields: fieldsSchema, asUserId: z.string().optional() }).parse(req.body);
    res.status(201).json(emulator.publishPlatformEvent(param(req, 'name'), body.fields, body.asUserId));
  });
  router.post('/retention', (req, res) => {
    emulator.setRetention(z.object({ ms: z.number().int().min(0) }).parse(req.body).ms);
    res.status(204).end();
  });
  router.post('/events/purge', (_req, res) => {
    emulator.purgeEvents();
    res.status(204).end();
  });
  router.put('/custom-metadata/:type/:developerName', (req, res) => {
    emulator.setCustomMetadata(param(req, 'type'), param(req, 'developerName'), fieldValuesSchema.parse(req.body));
    res.status(204).end();
  });
  router.post('/package-installed', (req, res) => {
    emulator.setPackageInstalled(z.object({ installed: z.boolean() }).parse(req.body).installed);
    res.status(204).end();
  });
  router.post('/fail-next-writes', (req, res) => {
    const body = z
      .object({ recordId: z.string(), errorCode: z.string(), times: z.number().int().positive().default(1) })
      .parse(req.body);
    emulator.failNextWrites(body.recordId, body.errorCode, body.times);
    res.status(204).end();
  });
  router.put('/records/:id/fault', (req, res) => {
    const fault = z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('validation-rule'), message: z.string().optional(), field: z.string().optional() }),
        z.object({ kind: z.literal('required-field'), field: z.string() }),
        z.object({ kind: z.literal('deleted') }),
        z.object({ kind: z.literal('read-only') }),
      ])
      .parse(req.body);
    emulator.setRecordFault(param(req, 'id'), clean(fault));
    res.status(204).end();
  });
  router.delete('/records/:id/fault', (req, res) => {
    emulator.setRecordFault(param(req, 'id'), null);
    res.status(204).end();
  });
  router.post('/leads/:id/convert', (req, res) => {
    res.json(emulator.convertLead(param(req, 'id')));
  });
  router.put('/access/:type', (req, res) => {
    emulator.setObjectAccess(param(req, 'type'), z.object({ access: z.enum(['edit', 'read', 'none']) }).parse(req.body).access);
    res.status(204).end();
  });
  router.put('/access/:type/:field', (req, res) => {
    emulator.setFieldAccess(param(req, 'type'), param(req, 'field'), z.object({ access: z.enum(['edit', 'read', 'hidden']) }).parse(req.body).access);
    res.status(204).end();
  });
  router.get('/scenarios', (_req, res) => {
    res.json(orgScenarios);
  });
  router.post('/scenarios/:name', (req, res) => {
    const name = param(req, 'name');
    if (!isOrgScenario(name)) {
      res.status(404).json({ error: `unknown scenario ${name}`, scenarios: Object.keys(orgScenarios) });
      return;
    }
    const body = z.object({ email: z.string().optional() }).parse(req.body ?? {});
    res.json(applyOrgScenario(emulator, name, clean(body)));
  });
  router.post('/event-delivery', (req, res) => {
    const body = z
      .object({
        delayMs: z.number().int().min(0).optional(),
        jitterMs: z.number().int().min(0).optional(),
        channelDelayMs: z.record(z.string(), z.number().int().min(0)).optional(),
      })
      .parse(req.body);
    res.json(emulator.setEventDelivery(clean(body)));
  });
  router.post('/session-timeout', (req, res) => {
    emulator.setSessionTimeout(z.object({ ms: z.number().int().min(0) }).parse(req.body).ms);
    res.status(204).end();
  });
  router.get('/api-limit', (_req, res) => {
    res.json(emulator.apiUsage());
  });
  router.post('/api-limit', (req, res) => {
    const body = z
      .object({ max: z.number().int().min(0).optional(), enforce: z.boolean().optional(), addUsage: z.number().int().min(0).optional() })
      .parse(req.body);
    emulator.setApiLimit(clean(body));
    res.json(emulator.apiUsage());
  });
  router.post('/latency', (req, res) => {
    emulator.setLatency(z.object({ ms: z.number().int().min(0) }).parse(req.body).ms);
    res.status(204).end();
  });
  router.post('/query-batch-size', (req, res) => {
    extra.setQueryBatchSize(z.object({ size: z.number().int().positive() }).parse(req.body).size);
    res.status(204).end();
  });
  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (error instanceof z.ZodError) {
      res.status(400).json({ error: 'invalid control request', issues: error.issues });
      return;
    }
    if (error instanceof SalesforceApiError) {
      res.status(error.status).json(error.toBody());
      return;
    }
    next(error);
  });
  return router;
}
