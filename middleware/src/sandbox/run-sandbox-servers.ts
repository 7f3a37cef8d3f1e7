// Both emulators as real HTTP servers on 127.0.0.1, seeded with a small demo account: the stand-ins the CLI's
// `sandbox` command (and anyone exploring by hand) points the real middleware at. Imports nothing from the product.
import { startSalesforceEmulator, type SalesforceEmulator } from './salesforce';
import { startActiveCampaignEmulator, type ActiveCampaignEmulator } from './activecampaign';

export const defaultSandboxPorts = { salesforce: 4410, pubSub: 4411, activecampaign: 4420 } as const;

/** The people of the demo; each walk-through step uses one of them. */
export const demoPeople = {
  /** Step 1: opted out in Salesforce, on three AC lists. */
  salesforceOptOut: 'ada.lovelace@example.com',
  /** Step 2: one Contact and one Lead share this email; the person unsubscribes from everything in AC. */
  acUnsubscribe: 'grace.hopper@example.com',
  /** Step 3: the mail to this address hard-bounces in AC. */
  hardBounce: 'alan.turing@example.com',
} as const;

export interface DemoData {
  lists: Record<'newsletter' | 'productUpdates' | 'events', { id: string; name: string }>;
  /** Salesforce record ids by email, e.g. { 'grace.hopper@example.com': [{ type: 'Contact', id }, { type: 'Lead', id }] }. */
  records: Record<string, { type: 'Contact' | 'Lead'; id: string }[]>;
}

export interface SandboxServers {
  sf: SalesforceEmulator;
  ac: ActiveCampaignEmulator;
  demo: DemoData;
  close(): Promise<void>;
}

export async function startSandboxServers(
  options: { salesforcePort?: number; pubSubPort?: number; activecampaignPort?: number; host?: string } = {},
): Promise<SandboxServers> {
  const host = options.host ?? '127.0.0.1';
  // Pub/Sub keepalives every 5 s rather than Salesforce's "within 270 s": a new subscription is confirmed quickly.
  const sf = await startSalesforceEmulator({
    host,
    port: options.salesforcePort ?? defaultSandboxPorts.salesforce,
    pubSub: { port: options.pubSubPort ?? defaultSandboxPorts.pubSub, keepaliveMs: 5_000 },
  });
  let ac: ActiveCampaignEmulator;
  try {
    ac = await startActiveCampaignEmulator({ host, port: options.activecampaignPort ?? defaultSandboxPorts.activecampaign });
  } catch (error) {
    await sf.close();
    throw error;
  }
  const demo = seedDemoData(sf, ac);
  return {
    sf,
    ac,
    demo,
    async close() {
      await Promise.all([sf.close(), ac.close()]);
    },
  };
}

/** Seeds silently (no webhooks, as if the data had been there before the middleware was installed). */
export function seedDemoData(sf: SalesforceEmulator, ac: ActiveCampaignEmulator): DemoData {
  const lists = {
    newsletter: ac.createList('Newsletter'),
    productUpdates: ac.createList('Product updates'),
    events: ac.createList('Events'),
  };
  const { newsletter, productUpdates, events } = lists;
  ac.createContact(demoPeople.salesforceOptOut, { firstName: 'Ada', lastName: 'Lovelace', lists: { [newsletter.id]: 1, [productUpdates.id]: 1, [events.id]: 1 } });
  ac.createContact(demoPeople.acUnsubscribe, { firstName: 'Grace', lastName: 'Hopper', lists: { [newsletter.id]: 1, [events.id]: 1 } });
  ac.createContact(demoPeople.hardBounce, { firstName: 'Alan', lastName: 'Turing', lists: { [newsletter.id]: 1 } });
  ac.createContact('katherine.johnson@example.com', { firstName: 'Katherine', lastName: 'Johnson', lists: { [productUpdates.id]: 1, [events.id]: 2 } });
  ac.createContact('edsger.dijkstra@example.com', { firstName: 'Edsger', lastName: 'Dijkstra', lists: { [newsletter.id]: 1 } });

  const records: DemoData['records'] = {};
  const add = (type: 'Contact' | 'Lead', fields: Record<string, unknown>) => {
    const id = String(sf.insert(type, { HasOptedOutOfEmail: false, ...fields }).Id);
    const email = String(fields.Email).toLowerCase();
    (records[email] ??= []).push({ type, id });
  };
  add('Contact', { FirstName: 'Ada', LastName: 'Lovelace', Email: 'Ada.Lovelace@example.com' });
  add('Contact', { FirstName: 'Grace', LastName: 'Hopper', Email: demoPeople.acUnsubscribe });
  // Same person as a Lead (different capitalisation: Salesforce matches emails case-insensitively).
  add('Lead', { FirstName: 'Grace', LastName: 'Hopper', Company: 'US Navy', Email: 'GRACE.HOPPER@example.com' });
  add('Contact', { FirstName: 'Alan', LastName: 'Turing', Email: demoPeople.hardBounce });
  add('Contact', { FirstName: 'Katherine', LastName: 'Johnson', Email: 'katherine.johnson@example.com' });
  add('Lead', { FirstName: 'Edsger', LastName: 'Dijkstra', Company: 'Eindhoven University', Email: 'edsger.dijkstra@example.com' });
  return { lists, records };
}
