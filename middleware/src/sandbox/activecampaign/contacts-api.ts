// Contacts, list memberships, bounce logs and contact tags (spec operations list-all-contacts, get-contact,
// create-a-new-contact, sync-a-contacts-data, update-a-contact-new, delete-contact,
// retrieve-contact-list-memberships, retrieve-contact-bounce-logs, update-list-status-for-contact,
// create-contact-tag, remove-a-contacts-tag). API-made changes fire webhooks with source `api`, as AC does.
import { Router } from 'express';
import { z } from 'zod';
import { type ApiContext, errors, idParam, idString, notFound, pageOf, queryOf, send } from './api-context';
import type { ContactRecord, ListStatus } from './account-state';
import type { JsonObject } from './resource-representations';

const contactFields = z.object({
  email: z.string().optional(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  phone: z.string().optional(),
  fieldValues: z.array(z.object({ field: z.union([z.string(), z.number()]), value: z.unknown() })).optional(),
});
const contactBody = z.object({ contact: contactFields });
const contactListBody = z.object({
  contactList: z.object({
    list: z.unknown(),
    contact: z.unknown(),
    status: z.unknown(),
    sourceid: z.unknown().optional(),
  }),
});
const contactTagBody = z.object({
  contactTag: z.object({ contact: z.unknown().optional(), tag: z.unknown().optional() }),
});

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function emailError(): JsonObject {
  return {
    title: 'Contact Email Address is not valid.',
    detail: '',
    code: 'email_invalid',
    source: { pointer: '/data/attributes/email' },
  };
}

export function contactsApi(ctx: ApiContext): Router {
  const { state, repr, clock } = ctx;
  const router = Router();
  let fieldValueIds = 0;

  // Field values are echoed, not stored: custom fields are outside the opt-out subset.
  const fieldValuesOf = (
    contact: ContactRecord,
    values: { field: string | number; value: unknown }[] | undefined,
  ): JsonObject[] =>
    (values ?? []).map((fv) => {
      const id = String(++fieldValueIds);
      const now = clock.iso(clock.current());
      return {
        contact: contact.id,
        field: String(fv.field),
        value:
          typeof fv.value === 'string'
            ? fv.value
            : fv.value === undefined || fv.value === null
              ? null
              : String(fv.value),
        cdate: now,
        udate: now,
        created_by: null,
        updated_by: null,
        links: { owner: `fieldValues/${id}/owner`, field: `fieldValues/${id}/field` },
        id,
        owner: contact.id,
      };
    });

  router.get('/contacts', (req, res) => {
    const q = queryOf(req);
    const email = q.get('email');
    // An exact email is one contact at most (AC keeps one per address): looked up, not scanned.
    const byEmail = email === null ? undefined : state.findContactByEmail(email);
    let items = email === null ? [...state.contacts.values()] : byEmail === undefined ? [] : [byEmail];
    const emailLike = q.get('email_like');
    if (emailLike) items = items.filter((c) => c.email.toLowerCase().includes(emailLike.toLowerCase()));
    const search = q.get('search');
    if (search) {
      const s = search.toLowerCase();
      items = items.filter((c) => [c.email, c.firstName, c.lastName, c.phone].some((v) => v.toLowerCase().includes(s)));
    }
    const ids = [...q.getAll('ids[]'), ...q.getAll('ids').flatMap((v) => v.split(','))].filter(Boolean);
    if (ids.length > 0) items = items.filter((c) => ids.includes(c.id));
    const exclude = q.get('exclude');
    if (exclude) items = items.filter((c) => c.id !== exclude);
    const idGreater = q.get('id_greater');
    if (idGreater) items = items.filter((c) => Number(c.id) > Number(idGreater));
    const idLess = q.get('id_less');
    if (idLess) items = items.filter((c) => Number(c.id) < Number(idLess));
    const listid = q.get('listid');
    const status = Number.parseInt(q.get('status') ?? '-1', 10);
    if (listid) {
      items = items.filter((c) => {
        const m = state.membership(c.id, listid);
        return m !== undefined && (status === -1 || m.status === status);
      });
    } else if (status !== -1 && Number.isFinite(status)) {
      items = items.filter((c) => state.membershipsOf(c.id).some((m) => m.status === status));
    }
    const tagid = q.get('tagid');
    if (tagid) items = items.filter((c) => state.tagsOf(c.id).some((t) => t.tag === tagid));
    // Date filters compare with second precision, inclusive at the bound (AC does not document which).
    const dateFilter = (key: string, pick: (c: ContactRecord) => Date, after: boolean) => {
      const raw = q.get(key);
      if (raw === null) return;
      const bound = clock.parseFilterDate(raw);
      if (!bound) return;
      items = items.filter((c) =>
        after ? pick(c).getTime() >= bound.getTime() : pick(c).getTime() <= bound.getTime(),
      );
    };
    dateFilter('filters[created_after]', (c) => c.cdate, true);
    dateFilter('filters[created_before]', (c) => c.cdate, false);
    dateFilter('filters[updated_after]', (c) => c.udate, true);
    dateFilter('filters[updated_before]', (c) => c.udate, false);

    const orderKeys: [string, (c: ContactRecord) => string | number][] = [
      ['orders[id]', (c) => Number(c.id)],
      ['orders[cdate]', (c) => c.cdate.getTime()],
      ['orders[email]', (c) => c.email.toLowerCase()],
      ['orders[first_name]', (c) => c.firstName.toLowerCase()],
      ['orders[last_name]', (c) => c.lastName.toLowerCase()],
      ['orders[name]', (c) => `${c.firstName} ${c.lastName}`.toLowerCase()],
    ];
    const orders = orderKeys.filter(([key]) => q.has(key));
    items.sort((a, b) => {
      for (const [key, pick] of orders) {
        const dir = (q.get(key) ?? 'ASC').toUpperCase() === 'DESC' ? -1 : 1;
        const x = pick(a);
        const y = pick(b);
        if (x < y) return -dir;
        if (x > y) return dir;
      }
      return Number(a.id) - Number(b.id);
    });

    const { limit, offset } = pageOf(q);
    const page = items.slice(offset, offset + limit);
    const include = (q.get('include') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const wantLists = include.some((i) => i === 'contactLists' || i.startsWith('contactLists.'));
    const wantListObjects = include.includes('contactLists.list');
    const wantTags = include.some((i) => i === 'contactTags' || i.startsWith('contactTags.'));
    const wantTagObjects = include.includes('contactTags.tag');

    const body: JsonObject = {
      scoreValues: [],
      contacts: page.map((c) => {
        const json = repr.contact(c);
        if (wantLists) json.contactLists = state.membershipsOf(c.id).map((m) => m.id);
        if (wantTags) json.contactTags = state.tagsOf(c.id).map((t) => t.id);
        return json;
      }),
    };
    if (wantLists) {
      const memberships = page.flatMap((c) => state.membershipsOf(c.id));
      body.contactLists = memberships.map((m) => repr.contactList(m));
      if (wantListObjects) {
        const listIds = [...new Set(memberships.map((m) => m.list))];
        body.lists = listIds.flatMap((id) => {
          const list = state.lists.get(id);
          return list ? [repr.list(list)] : [];
        });
      }
    }
    if (wantTags) {
      const contactTags = page.flatMap((c) => state.tagsOf(c.id));
      body.contactTags = contactTags.map((t) => repr.contactTag(t));
      if (wantTagObjects) {
        const tagIds = [...new Set(contactTags.map((t) => t.tag))];
        body.tags = tagIds.flatMap((id) => {
          const tag = state.tags.get(id);
          return tag ? [repr.tag(tag)] : [];
        });
      }
    }
    body.meta = {
      // meta.total is a STRING in AC's answers (docs example and recordings).
      total: String(items.length),
      page_input: {
        segmentid: 0,
        formid: 0,
        listid: Number(listid ?? 0) || 0,
        tagid: Number(tagid ?? 0) || 0,
        limit,
        offset,
        search: search ?? null,
        sort: null,
        seriesid: 0,
        waitid: 0,
        status,
        forceQuery: 0,
        cacheid: '',
      },
    };
    send(res, 200, body);
  });

  router.get('/contacts/:id', (req, res) => {
    const contact = state.contacts.get(idParam(req));
    if (!contact) return notFound(res, 'Subscriber', idParam(req));
    send(res, 200, {
      contactAutomations: [],
      contactLists: state.membershipsOf(contact.id).map((m) => repr.contactList(m)),
      deals: [],
      fieldValues: [],
      geoAddresses: [],
      geoIps: [],
      contact: repr.contactWithSideloadIds(contact),
    });
  });

  router.post('/contacts', (req, res) => {
    const parsed = contactBody.safeParse(req.body);
    if (!parsed.success) return errors(res, 422, [emailError()]);
    const fields = parsed.data.contact;
    if (!fields.email || !EMAIL.test(fields.email)) return errors(res, 422, [emailError()]);
    if (state.findContactByEmail(fields.email)) {
      return errors(res, 422, [
        {
          title: 'Email address already exists in the system',
          detail: '',
          code: 'duplicate',
          source: { pointer: '/data/attributes/email' },
        },
      ]);
    }
    const contact = state.createContact({
      email: fields.email,
      firstName: fields.firstName,
      lastName: fields.lastName,
      phone: fields.phone,
    });
    send(res, 201, { fieldValues: fieldValuesOf(contact, fields.fieldValues), contact: repr.contact(contact) });
  });

  router.post('/contact/sync', (req, res) => {
    const parsed = contactBody.safeParse(req.body);
    if (!parsed.success || !parsed.data.contact.email || !EMAIL.test(parsed.data.contact.email))
      return send(res, 400, {});
    const fields = parsed.data.contact;
    const email = fields.email ?? '';
    const existing = state.findContactByEmail(email);
    if (existing) {
      // An upsert keyed on email; a real recording of an existing contact answered 200 with the contact.
      state.updateContactFields(
        existing,
        { firstName: fields.firstName, lastName: fields.lastName, phone: fields.phone },
        'api',
      );
      return send(res, 200, {
        fieldValues: fieldValuesOf(existing, fields.fieldValues),
        contact: { ...repr.contact(existing), fieldValues: [] },
      });
    }
    const contact = state.createContact({
      email,
      firstName: fields.firstName,
      lastName: fields.lastName,
      phone: fields.phone,
    });
    send(res, 201, {
      fieldValues: fieldValuesOf(contact, fields.fieldValues),
      contact: { ...repr.contact(contact), fieldValues: [] },
    });
  });

  router.put('/contacts/:id', (req, res) => {
    const contact = state.contacts.get(idParam(req));
    if (!contact) return notFound(res, 'Subscriber', idParam(req));
    const parsed = contactBody.safeParse(req.body);
    if (!parsed.success) return errors(res, 422, [emailError()]);
    const fields = parsed.data.contact;
    if (fields.email !== undefined && !EMAIL.test(fields.email)) return errors(res, 422, [emailError()]);
    state.updateContactFields(contact, fields, 'api');
    send(res, 200, { fieldValues: fieldValuesOf(contact, fields.fieldValues), contact: repr.contact(contact) });
  });

  router.delete('/contacts/:id', (req, res) => {
    if (!state.contacts.has(idParam(req))) return notFound(res, 'Subscriber', idParam(req));
    state.deleteContact(idParam(req));
    send(res, 200, {});
  });

  router.get('/contacts/:id/contactLists', (req, res) => {
    const contact = state.contacts.get(idParam(req));
    if (!contact) return notFound(res, 'Subscriber', idParam(req));
    send(res, 200, { contactLists: state.membershipsOf(contact.id).map((m) => repr.contactList(m)) });
  });

  router.get('/contacts/:id/bounceLogs', (req, res) => {
    const contact = state.contacts.get(idParam(req));
    if (!contact) return notFound(res, 'Subscriber', idParam(req));
    const logs = [...state.bounceLogs.values()].filter((b) => b.contact === contact.id);
    send(res, 200, { bounceLogs: logs.map((b) => repr.bounceLog(b)) });
  });

  router.get('/contacts/:id/contactTags', (req, res) => {
    const contact = state.contacts.get(idParam(req));
    if (!contact) return notFound(res, 'Subscriber', idParam(req));
    send(res, 200, { contactTags: state.tagsOf(contact.id).map((t) => repr.contactTag(t)) });
  });

  router.post('/contactLists', (req, res) => {
    const parsed = contactListBody.safeParse(req.body);
    if (!parsed.success) return send(res, 400, {});
    const listId = idString(parsed.data.contactList.list);
    const contactId = idString(parsed.data.contactList.contact);
    const statusText = idString(parsed.data.contactList.status);
    // The docs: status "1" subscribes, "2" unsubscribes; anything else is refused with the documented 400 {}.
    if (!listId || !contactId || (statusText !== '1' && statusText !== '2')) return send(res, 400, {});
    const contact = state.contacts.get(contactId);
    if (!contact) return notFound(res, 'Subscriber', contactId);
    if (!state.lists.has(listId)) return notFound(res, 'List', listId);
    const sourceid = idString(parsed.data.contactList.sourceid);
    // WARNING reproduced from the docs: status 1 re-subscribes even a contact who unsubscribed by hand.
    const { membership } = state.setListStatus(contact, listId, Number(statusText) as ListStatus, 'api', { sourceid });
    send(res, 200, { contacts: [repr.contact(contact)], contactList: repr.contactListForPost(membership) });
  });

  router.post('/contactTags', (req, res) => {
    const parsed = contactTagBody.safeParse(req.body);
    const contactId = parsed.success ? idString(parsed.data.contactTag.contact) : undefined;
    const tagId = parsed.success ? idString(parsed.data.contactTag.tag) : undefined;
    if (!contactId)
      return errors(res, 422, [
        { status: 422, title: 'Missing attribute', source: { pointer: '/data/attributes/contact' } },
      ]);
    if (!tagId)
      return errors(res, 422, [
        { status: 422, title: 'Missing attribute', source: { pointer: '/data/attributes/tag' } },
      ]);
    const contact = state.contacts.get(contactId);
    if (!contact) return errors(res, 404, [{ status: 404, title: 'Not Found', detail: 'Contact not found' }]);
    if (!state.tags.has(tagId)) return errors(res, 404, [{ status: 404, title: 'Not Found', detail: 'Tag not found' }]);
    const { contactTag } = state.addTag(contact, tagId);
    send(res, 201, { contactTag: repr.contactTag(contactTag) });
  });

  router.delete('/contactTags/:id', (req, res) => {
    const id = idParam(req);
    if (!state.contactTags.has(id)) return notFound(res, 'SubscriberTag', id);
    state.contactTags.delete(id);
    send(res, 200, {});
  });

  return router;
}
