// ActiveCampaign webhook deliveries: form-encoded POSTs with PHP-style bracket keys (contact[id], contact[email],
// bounce[type]...), parsed by express.urlencoded({ extended: true }) into nested objects. AC publishes no verbatim
// sample; the field list follows fixtures/activecampaign/activecampaign-webhooks.asyncapi.yml.
import { z } from 'zod';

/** The events that can change opt-out state; others (e.g. list_add) are accepted and ignored. */
export const relevantWebhookTypes = ['subscribe', 'unsubscribe', 'bounce', 'update'] as const;

export const webhookPayloadSchema = z
  .object({
    type: z.string().min(1, 'type is empty'),
    date_time: z.string().min(1, 'date_time is empty'),
    initiated_from: z.string().optional(),
    initiated_by: z.string().optional(),
    // AC sends both `list` and `list[][id]` on unsubscribes; a qs-style parser merges them into an array. The
    // list is not used (the full state is read from AC), so any shape is accepted.
    list: z.unknown().optional(),
    contact: z
      .object({
        id: z.string().regex(/^\d+$/, 'contact[id] must be a numeric id'),
        email: z.string().min(3).max(254),
      })
      .loose(),
  })
  .loose();

export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;
