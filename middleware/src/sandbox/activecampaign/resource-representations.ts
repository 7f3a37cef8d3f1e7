// JSON shapes of AC resources, key for key as in the examples of fixtures/activecampaign/opt-out-subset.openapi.json:
// IDs and counters are strings, dates carry the account offset, unknown values are null or "" as AC sends them.
import type { AccountClock } from './account-clock';
import type {
  AccountState,
  BounceLogRecord,
  ContactListRecord,
  ContactRecord,
  ContactTagRecord,
  ListRecord,
  TagRecord,
} from './account-state';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

const CONTACT_LINKS = [
  'bounceLogs',
  'contactAutomations',
  'contactData',
  'contactGoals',
  'contactLists',
  'contactLogs',
  'contactTags',
  'contactDeals',
  'deals',
  'fieldValues',
  'geoIps',
  'notes',
  'organization',
  'plusAppend',
  'trackingLogs',
  'scoreValues',
  'accountContacts',
  'automationEntryCounts',
];

function links(base: string, names: string[]): JsonObject {
  return Object.fromEntries(names.map((name) => [name, `${base}/${name}`]));
}

export class Representations {
  constructor(
    private readonly apiBase: () => string,
    private readonly clock: AccountClock,
    private readonly state: AccountState,
  ) {}

  private iso(date: Date | null): string | null {
    return date ? this.clock.iso(date) : null;
  }

  contact(c: ContactRecord): JsonObject {
    const [local, domain] = c.email.split('@');
    return {
      cdate: this.clock.iso(c.cdate),
      email: c.email,
      phone: c.phone,
      firstName: c.firstName,
      lastName: c.lastName,
      orgid: '0',
      orgname: '',
      segmentio_id: '',
      bounced_hard: String(c.bouncedHard),
      bounced_soft: String(c.bouncedSoft),
      // AC's list example shows "0000-00-00" for a contact that never bounced.
      bounced_date: c.bouncedDate ? this.clock.day(c.bouncedDate) : '0000-00-00',
      ip: '0',
      ua: '',
      hash: c.hash,
      socialdata_lastcheck: '0000-00-00 00:00:00',
      email_local: local ?? '',
      email_domain: domain ?? '',
      sentcnt: '0',
      rating_tstamp: '0000-00-00',
      gravatar: '0',
      deleted: '0',
      anonymized: '0',
      adate: null,
      udate: this.clock.iso(c.udate),
      edate: null,
      deleted_at: '0000-00-00 00:00:00',
      // A real recording showed *_utc_timestamp holding local wall-clock time (research §2); reproduced as seen.
      created_utc_timestamp: this.clock.naive(c.cdate),
      updated_utc_timestamp: this.clock.naive(c.udate),
      created_timestamp: this.clock.naive(c.cdate),
      updated_timestamp: this.clock.naive(c.udate),
      created_by: null,
      updated_by: null,
      email_empty: false,
      scoreValues: [],
      links: links(`${this.apiBase()}/contacts/${c.id}`, CONTACT_LINKS),
      id: c.id,
      organization: null,
    };
  }

  /** GET /contacts/{id} adds ID arrays for its sideloads inside the contact. */
  contactWithSideloadIds(c: ContactRecord): JsonObject {
    return {
      ...this.contact(c),
      contactAutomations: [],
      contactLists: this.state.membershipsOf(c.id).map((m) => m.id),
      fieldValues: [],
      geoIps: [],
      deals: [],
      accountContacts: [],
    };
  }

  /** `status` is a string here (every GET); POST /contactLists answers a number, see contactListForPost. */
  contactList(m: ContactListRecord): JsonObject {
    const contact = this.state.contacts.get(m.contact);
    return {
      contact: m.contact,
      list: m.list,
      form: null,
      seriesid: '0',
      sdate: this.iso(m.sdate),
      udate: this.iso(m.udate),
      status: String(m.status),
      responder: '1',
      sync: '0',
      unsubreason: m.unsubreason,
      campaign: null,
      message: null,
      first_name: contact?.firstName ?? '',
      last_name: contact?.lastName ?? '',
      ip4Sub: '0',
      sourceid: m.sourceid,
      autosyncLog: null,
      ip4_last: '0',
      ip4Unsub: '0',
      created_timestamp: this.clock.naive(m.created),
      updated_timestamp: this.clock.naive(m.updated),
      created_by: null,
      updated_by: null,
      unsubscribeAutomation: null,
      channel: 'email',
      links: links(`${this.apiBase()}/contactLists/${m.id}`, [
        'automation',
        'list',
        'contact',
        'form',
        'autosyncLog',
        'campaign',
        'unsubscribeAutomation',
        'message',
      ]),
      id: m.id,
      automation: null,
    };
  }

  contactListForPost(m: ContactListRecord): JsonObject {
    // The POST answer carries status as a NUMBER (docs example and a real recording), unlike every GET.
    return { ...this.contactList(m), status: m.status };
  }

  list(l: ListRecord): JsonObject {
    return {
      stringid: l.stringid,
      userid: '1',
      name: l.name,
      cdate: this.clock.iso(l.cdate),
      p_use_tracking: '1',
      p_use_analytics_read: '0',
      p_use_analytics_link: '0',
      p_use_twitter: '0',
      p_use_facebook: '0',
      p_embed_image: '1',
      p_use_captcha: '1',
      send_last_broadcast: '0',
      private: '0',
      analytics_domains: null,
      analytics_source: '',
      analytics_ua: '',
      twitter_token: '',
      twitter_token_secret: '',
      facebook_session: null,
      carboncopy: null,
      subscription_notify: null,
      unsubscription_notify: null,
      require_name: '0',
      get_unsubscribe_reason: '0',
      to_name: 'Subscriber',
      optinoptout: '1',
      sender_name: '',
      sender_addr1: '',
      sender_addr2: '',
      sender_city: '',
      sender_state: '',
      sender_zip: '',
      sender_country: '',
      sender_phone: '',
      sender_url: l.senderUrl,
      sender_reminder: l.senderReminder,
      fulladdress: '',
      optinmessageid: '0',
      optoutconf: '0',
      deletestamp: null,
      udate: this.iso(l.udate),
      links: links(`${this.apiBase()}/lists/${l.id}`, ['contactGoalLists', 'user', 'addressLists']),
      id: l.id,
      user: '1',
    };
  }

  tag(t: TagRecord): JsonObject {
    return {
      tagType: t.tagType,
      tag: t.tag,
      description: t.description,
      cdate: this.clock.iso(t.cdate),
      links: links(`${this.apiBase()}/tags/${t.id}`, ['contactGoalTags']),
      id: t.id,
    };
  }

  contactTag(ct: ContactTagRecord): JsonObject {
    return {
      cdate: this.clock.iso(ct.cdate),
      contact: ct.contact,
      id: ct.id,
      links: links(`${this.apiBase()}/contactTags/${ct.id}`, ['contact', 'tag']),
      tag: ct.tag,
    };
  }

  bounceLog(b: BounceLogRecord): JsonObject {
    return {
      tstamp: this.clock.iso(b.tstamp),
      bounceid: b.bounceType === 'hard' ? '1' : '2',
      subscriberid: b.contact,
      campaignid: '0',
      messageid: '0',
      codeid: b.code,
      email: b.email,
      error: '',
      source: '',
      created_timestamp: this.clock.naive(b.tstamp),
      updated_timestamp: this.clock.naive(b.tstamp),
      created_by: null,
      updated_by: null,
      links: links(`${this.apiBase()}/bounceLogs/${b.id}`, ['bounce', 'contact', 'campaign', 'message', 'code']),
      id: b.id,
      bounce: b.bounceType === 'hard' ? '1' : '2',
      contact: b.contact,
      campaign: '0',
      message: '0',
      code: b.code,
    };
  }
}
