// ActiveCampaign webhook deliveries: form-encoded POSTs with PHP-style bracket keys (contact[id], contact[email],
// bounce[type]...), parsed by express.urlencoded({ extended: true }) into nested objects. AC publishes no verbatim
// sample; the field list follows fixtures/activecampaign/activecampaign-webhooks.asyncapi.yml.
import { z } from 'zod';

/** The events that can change opt-out state; others (e.g. list_add) are accepted and ignored. */
export const relevantWebhookTypes = ['subscribe', 'unsubscribe', 'bounce', 'update'] as const;

/** Text PostgreSQL can store and compare: no NUL, no lone surrogates. */
const storableText = z.string().refine((v) => !v.includes(String.fromCharCode(0)) && v.isWellFormed(), 'contains a NUL byte or malformed text');

export const webhookPayloadSchema = z
  .object({
    type: storableText.pipe(z.string().min(1, 'type is empty')),
    date_time: storableText.pipe(z.string().min(1, 'date_time is empty')),
    initiated_from: z.string().optional(),
    initiated_by: z.string().optional(),
    // AC sends both `list` and `list[][id]` on unsubscribes; a qs-style parser merges them into an array. The
    // list is not used (the full state is read from AC), so any shape is accepted.
    list: z.unknown().optional(),
    contact: z
      .object({
        // AC's ids are integers (at most 19 digits, a bigint): a longer one names no contact, and the confirming read
        // of the 100 contacts in its batch (ids in the URL) fails for good, which held every later delivery back.
        id: z.string().regex(/^\d{1,19}$/, 'contact[id] must be a numeric id of at most 19 digits'),
        email: storableText.pipe(z.string().max(254).regex(/^[^\s@]+@[^\s@]+$/, 'not an email address')),
      })
      .loose(),
  })
  .loose();

export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;

/**
 * Fields the product does not read are kept as received, except text PostgreSQL cannot store: a NUL or a lone
 * surrogate in, say, a campaign name must not cost the delivery (AC never sends it again).
 */
export function storableDelivery(value: unknown): unknown {
  if (typeof value === 'string') return value.split(String.fromCharCode(0)).join('\uFFFD').toWellFormed();
  if (Array.isArray(value)) return value.map(storableDelivery);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableDelivery(k) as string, storableDelivery(v)]));
  return value;
}
