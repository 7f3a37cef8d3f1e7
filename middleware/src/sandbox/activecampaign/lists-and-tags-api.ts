// Lists and tags (spec operations create-new-list, retrieve-all-lists, retrieve-a-list, create-a-new-tag,
// retrieve-all-tags, retrieve-a-tag) and the bulk-import endpoints (bulk-import-contacts,
// bulk-import-status-list, bulk-import-status-info).
import { Router } from 'express';
import { z } from 'zod';
import { type ApiContext, errors, idParam, notFound, pageOf, queryOf, send } from './api-context';

const listBody = z.object({
  list: z.object({
    name: z.string().min(1),
    stringid: z.string().optional(),
    sender_url: z.string().optional(),
    sender_reminder: z.string().optional(),
  }),
});
const tagBody = z.object({
  tag: z.object({
    tag: z.string().min(1),
    tagType: z.enum(['contact', 'template']).optional(),
    description: z.string().optional(),
  }),
});

export function listsAndTagsApi(ctx: ApiContext): Router {
  const { state, repr, importer } = ctx;
  const router = Router();

  router.post('/lists', (req, res) => {
    const parsed = listBody.safeParse(req.body);
    if (!parsed.success) return send(res, 400, {});
    const { name, stringid, sender_url: senderUrl, sender_reminder: senderReminder } = parsed.data.list;
    const list = state.createList({ name, stringid, senderUrl, senderReminder });
    send(res, 200, { list: repr.list(list) });
  });

  router.get('/lists', (req, res) => {
    const q = queryOf(req);
    let items = [...state.lists.values()];
    const name = q.get('filters[name]') ?? q.get('filters[name][eq]');
    if (name !== null) items = items.filter((l) => l.name === name);
    const contains = q.get('filters[name][contains]');
    if (contains !== null) items = items.filter((l) => l.name.toLowerCase().includes(contains.toLowerCase()));
    const order = q.get('orders[name]');
    if (order) items.sort((a, b) => a.name.localeCompare(b.name) * (order.toUpperCase() === 'DESC' ? -1 : 1));
    const { limit, offset } = pageOf(q);
    send(res, 200, {
      lists: items.slice(offset, offset + limit).map((l) => repr.list(l)),
      meta: { total: String(items.length) },
    });
  });

  router.get('/lists/:id', (req, res) => {
    const list = state.lists.get(idParam(req));
    if (!list) return notFound(res, 'List', idParam(req));
    send(res, 200, { list: repr.list(list) });
  });

  router.post('/tags', (req, res) => {
    const parsed = tagBody.safeParse(req.body);
    if (!parsed.success) {
      return errors(res, 422, [
        { title: 'Missing attribute', detail: '', code: 'field_missing', source: { pointer: '/data/attributes/tag' } },
      ]);
    }
    // Tag names are unique case-insensitively; a duplicate is refused (research §7, third-party report).
    if (state.findTagByName(parsed.data.tag.tag)) {
      return errors(res, 422, [
        {
          title: 'Tag name already exists',
          detail: '',
          code: 'duplicate',
          source: { pointer: '/data/attributes/tag' },
        },
      ]);
    }
    const tag = state.createTag(parsed.data.tag);
    send(res, 201, { tag: repr.tag(tag) });
  });

  router.get('/tags', (req, res) => {
    const q = queryOf(req);
    let items = [...state.tags.values()];
    const search = q.get('search') ?? q.get('filters[search][contains]');
    if (search) items = items.filter((t) => t.tag.toLowerCase().includes(search.toLowerCase()));
    const eq = q.get('filters[search][eq]');
    if (eq !== null) items = items.filter((t) => t.tag.toLowerCase() === eq.toLowerCase());
    const startsWith = q.get('filters[search][starts_with]');
    if (startsWith !== null) items = items.filter((t) => t.tag.toLowerCase().startsWith(startsWith.toLowerCase()));
    if ((q.get('orders[search]') ?? '').toLowerCase() === 'weight' && search) {
      // "weight": exact matches first.
      items.sort(
        (a, b) =>
          Number(b.tag.toLowerCase() === search.toLowerCase()) - Number(a.tag.toLowerCase() === search.toLowerCase()),
      );
    }
    const { limit, offset } = pageOf(q);
    send(res, 200, {
      tags: items.slice(offset, offset + limit).map((t) => repr.tag(t)),
      meta: { total: String(items.length) },
    });
  });

  router.get('/tags/:id', (req, res) => {
    const tag = state.tags.get(idParam(req));
    if (!tag) return notFound(res, 'Tag', idParam(req));
    const subscribers = [...state.contactTags.values()].filter((ct) => ct.tag === tag.id).length;
    send(res, 200, { tag: { ...repr.tag(tag), subscriber_count: String(subscribers) } });
  });

  router.post('/import/bulk_import', (req, res) => {
    const answer = importer.submit(req.body);
    send(res, answer.status, answer.body);
  });

  router.get('/import/bulk_import', (_req, res) => {
    send(res, 200, importer.statusList());
  });

  router.get('/import/info', (req, res) => {
    const answer = importer.info(queryOf(req).get('batchId') ?? undefined);
    send(res, answer.status, answer.body);
  });

  return router;
}
