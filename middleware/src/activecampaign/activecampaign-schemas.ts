// One zod schema per ActiveCampaign answer this product reads, following the documented examples
// (fixtures/activecampaign/opt-out-subset.openapi.json) and research/activecampaign-api.md. AC's types are loose:
// IDs and counters are strings, meta.total is usually a string, contactList.status is a number on POST and a
// string on GET, "no date" is "0000-00-00". Each schema normalises to one TypeScript type, so nothing past
// this file sees the vendor's spelling. Unknown fields are ignored (zod objects strip them): AC adds fields.
import { z } from 'zod';

/** IDs: documented as strings; a number is accepted and turned into its decimal string. */
const acId = z
  .union([z.string().regex(/^\d+$/, 'expected a numeric id'), z.number().int().nonnegative()])
  .transform(String);

/** Counters such as bounced_hard: strings of digits in every example. */
const acCount = z
  .union([z.string().regex(/^\d+$/, 'expected a numeric string'), z.number().int().nonnegative()])
  .transform(Number);

/** contactList.status: 0 unconfirmed, 1 active, 2 unsubscribed, 3 bounced (AC staff answer, research §3). */
const acListStatus = z
  .union([z.number().int(), z.string().regex(/^-?\d+$/, 'expected a numeric status')])
  .transform(Number);

/** Dates: ISO with the account's UTC offset, or null / "0000-00-00" / "0000-00-00 00:00:00" meaning none. */
const acOptionalDate = z
  .string()
  .nullish()
  .transform((value) => (value === null || value === undefined || value.startsWith('0000-00-00') ? null : value));

/** meta.total: a string in most answers, an integer in a few (research §1). */
const acTotal = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(Number);

export const contactListStatus = {
  unconfirmed: 0,
  active: 1,
  unsubscribed: 2,
  bounced: 3,
} as const;

export const acContactSchema = z
  .object({
    id: acId,
    email: z.string(),
    bounced_hard: acCount.optional(),
    bounced_soft: acCount.optional(),
    bounced_date: acOptionalDate,
    cdate: acOptionalDate,
    udate: acOptionalDate,
  })
  .transform((raw) => ({
    id: raw.id,
    email: raw.email,
    bouncedHard: raw.bounced_hard ?? 0,
    bouncedSoft: raw.bounced_soft ?? 0,
    bouncedDate: raw.bounced_date,
    createdAt: raw.cdate,
    updatedAt: raw.udate,
  }));
export type AcContact = z.output<typeof acContactSchema>;

export const acContactListSchema = z
  .object({
    id: acId.optional(),
    contact: acId,
    list: acId,
    status: acListStatus,
    sdate: acOptionalDate,
    udate: acOptionalDate,
  })
  .transform((raw) => ({
    contactId: raw.contact,
    listId: raw.list,
    status: raw.status,
    sdate: raw.sdate,
    udate: raw.udate,
  }));
export type AcListMembership = z.output<typeof acContactListSchema>;

const acMetaSchema = z.object({ total: acTotal }).optional();

/** GET /contacts (optionally with include=contactLists sideloaded at the top level). */
export const listContactsResponseSchema = z.object({
  contacts: z.array(acContactSchema),
  contactLists: z.array(acContactListSchema).optional(),
  meta: acMetaSchema,
});

/** GET /contacts/{id}: the contact plus sideloaded arrays, contactLists among them. */
export const getContactResponseSchema = z.object({
  contact: acContactSchema,
  contactLists: z.array(acContactListSchema).optional(),
});

/** GET /contacts/{id}/contactLists */
export const contactListsResponseSchema = z.object({
  contactLists: z.array(acContactListSchema),
});

/** POST /contactLists: the docs add a `contacts` array, a recorded answer had only `contactList`. */
export const updateContactListResponseSchema = z.object({
  contactList: acContactListSchema,
});

export const acListSchema = z
  .object({ id: acId, name: z.string(), stringid: z.string().optional() })
  .transform((raw) => ({
    id: raw.id,
    name: raw.name,
    stringId: raw.stringid ?? null,
  }));
export type AcList = z.output<typeof acListSchema>;

/** GET /lists */
export const listListsResponseSchema = z.object({
  lists: z.array(acListSchema),
  meta: acMetaSchema,
});

/** POST /import/bulk_import 200: {"Success":1,"queued_contacts":1,"batchId":"…","message":"Contact import queued"} */
export const bulkImportResponseSchema = z.object({
  batchId: z.string().min(1),
  queued_contacts: acCount.optional(),
});

/** The import endpoints' failure body (400 validation / 400 rate limit): {"success":0,"message":…,"failureReasons":[…]} */
export const importFailureBodySchema = z.object({
  message: z.string().optional(),
  failureReasons: z.array(z.unknown()).optional(),
});

/**
 * GET /import/info?batchId=: success lists contact IDs, failure lists emails (research §4). AC's "Bulk import
 * status list" page warns that right after the POST "the `status` in the return may be `false` (a boolean),
 * because the system has not yet set a status on the batch": read that as "unset", not done.
 */
export const importInfoResponseSchema = z
  .object({
    status: z.union([z.string(), z.literal(false).transform(() => 'unset')]),
    success: z.array(acId).optional(),
    failure: z.array(z.string()).optional(),
  })
  .transform((raw) => ({
    status: raw.status,
    done: raw.status.toLowerCase() === 'completed',
    successContactIds: raw.success ?? [],
    failureEmails: raw.failure ?? [],
  }));
export type AcImportStatus = z.output<typeof importInfoResponseSchema>;

export const acWebhookSchema = z
  .object({
    id: acId,
    name: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    sources: z.array(z.string()),
    listid: acId.optional(),
  })
  .transform((raw) => ({
    id: raw.id,
    name: raw.name,
    url: raw.url,
    events: raw.events,
    sources: raw.sources,
    listId: raw.listid ?? '0',
  }));
export type AcWebhook = z.output<typeof acWebhookSchema>;

/** GET /webhooks */
export const listWebhooksResponseSchema = z.object({
  webhooks: z.array(acWebhookSchema),
  meta: acMetaSchema,
});
/** POST/PUT /webhooks: 201 {"webhook":{…}} */
export const webhookResponseSchema = z.object({ webhook: acWebhookSchema });

export const acTagSchema = z.object({ id: acId, tag: z.string(), tagType: z.string().optional() }).transform((raw) => ({
  id: raw.id,
  name: raw.tag,
  tagType: raw.tagType ?? null,
}));
export type AcTag = z.output<typeof acTagSchema>;

/** GET /tags?search= */
export const listTagsResponseSchema = z.object({
  tags: z.array(acTagSchema),
  meta: acMetaSchema,
});

/** GET /contacts/{id}/contactTags (the `contactTags` link on every contact). */
export const contactTagsResponseSchema = z.object({
  contactTags: z.array(z.object({ contact: acId, tag: acId, id: acId.optional() })),
});

/** Error bodies: {"message": …} or {"errors":[{"title","detail"}]} (research §1). Read only for messages. */
export const acErrorBodySchema = z.object({
  message: z.string().optional(),
  errors: z.array(z.object({ title: z.string().optional(), detail: z.string().optional() })).optional(),
});
