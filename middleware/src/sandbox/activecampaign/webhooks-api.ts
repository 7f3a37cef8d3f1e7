// Webhook management (spec operations create-webhook, get-a-list-of-webhooks, get-webhook, update-webhook,
// delete-webhook, get-a-list-of-webhook-events). `name`, `url`, `events` and `sources` are required; `listid`
// is optional and answered as "0" when absent.
import { Router } from 'express';
import { z } from 'zod';
import { type ApiContext, errors, idParam, idString, notFound, queryOf, send } from './api-context';
import type { JsonObject } from './resource-representations';
import { WEBHOOK_EVENTS, WEBHOOK_SOURCES, type WebhookRecord } from './webhook-dispatcher';

const webhookFields = z.object({
  name: z.string().min(1),
  url: z.url(),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1),
  sources: z.array(z.enum(WEBHOOK_SOURCES)).min(1),
  listid: z.unknown().optional(),
});
const webhookBody = z.object({ webhook: webhookFields });
const webhookUpdateBody = z.object({ webhook: webhookFields.partial() });

function invalid(issues: z.core.$ZodIssue[]): JsonObject[] {
  return issues.map((issue) => ({
    title: issue.message,
    detail: '',
    code: 'field_invalid',
    source: { pointer: `/data/attributes/${issue.path.slice(1).join('/')}` },
  }));
}

export function webhooksApi(ctx: ApiContext): Router {
  const { state, clock, webhooks } = ctx;
  const router = Router();

  const toJson = (hook: WebhookRecord): JsonObject => ({
    cdate: clock.iso(hook.cdate),
    listid: hook.listid,
    name: hook.name,
    url: hook.url,
    events: [...hook.events],
    sources: [...hook.sources],
    links: [],
    id: hook.id,
  });

  router.post('/webhooks', (req, res) => {
    const parsed = webhookBody.safeParse(req.body);
    if (!parsed.success) return errors(res, 422, invalid(parsed.error.issues));
    const { name, url, events, sources, listid } = parsed.data.webhook;
    const hook: WebhookRecord = {
      id: state.nextId('webhook'),
      name,
      url,
      events,
      sources,
      listid: listid === undefined || listid === null ? '0' : (idString(listid) ?? '0'),
      cdate: clock.current(),
      active: true,
    };
    webhooks.hooks.set(hook.id, hook);
    send(res, 201, { webhook: toJson(hook) });
  });

  router.get('/webhooks', (req, res) => {
    const q = queryOf(req);
    let items = [...webhooks.hooks.values()];
    const name = q.get('filters[name]');
    if (name !== null) items = items.filter((h) => h.name === name);
    const url = q.get('filters[url]');
    if (url !== null) items = items.filter((h) => h.url === url);
    const listid = q.get('filters[listid]');
    if (listid !== null) items = items.filter((h) => h.listid === listid);
    send(res, 200, { webhooks: items.map(toJson), meta: { total: String(items.length) } });
  });

  router.get('/webhooks/:id', (req, res) => {
    const hook = webhooks.hooks.get(idParam(req));
    if (!hook) return notFound(res, 'Webhook', idParam(req));
    send(res, 200, { webhook: toJson(hook) });
  });

  router.put('/webhooks/:id', (req, res) => {
    const hook = webhooks.hooks.get(idParam(req));
    if (!hook) return notFound(res, 'Webhook', idParam(req));
    const parsed = webhookUpdateBody.safeParse(req.body);
    if (!parsed.success) return send(res, 400, {});
    const { name, url, events, sources, listid } = parsed.data.webhook;
    if (name !== undefined) hook.name = name;
    if (url !== undefined) hook.url = url;
    if (events !== undefined) hook.events = events;
    if (sources !== undefined) hook.sources = sources;
    if (listid !== undefined) hook.listid = idString(listid) ?? '0';
    send(res, 200, { webhook: toJson(hook) });
  });

  router.delete('/webhooks/:id', (req, res) => {
    if (!webhooks.hooks.delete(idParam(req))) return notFound(res, 'Webhook', idParam(req));
    send(res, 200, {});
  });

  router.get('/webhook/events', (_req, res) => {
    // This endpoint's meta.total is an integer, unlike the collections (research §1).
    send(res, 200, { webhookEvents: [...WEBHOOK_EVENTS], meta: { total: WEBHOOK_EVENTS.length } });
  });

  return router;
}
