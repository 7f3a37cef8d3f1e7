// ActiveCampaign API v3 client: only the calls the opt-out sync needs, every answer parsed with zod
// (activecampaign-schemas.ts), every request through one RequestBudget (5 requests/s per account), every
// failure a typed error (activecampaign-errors.ts). No retries in here: the caller (a queue job) owns retries,
// using isRetryable/retryDelayMs, so one place decides how long an opt-out may wait.
import { z } from 'zod';
import {
  AcClientError,
  AcInvalidRequestError,
  AcNetworkError,
  AcNotFoundError,
  AcRateLimitedError,
  AcResponseShapeError,
  AcServerError,
  AcTimeoutError,
  parseRetryAfterMs,
} from './activecampaign-errors';
import {
  acErrorBodySchema,
  bulkImportResponseSchema,
  contactListsResponseSchema,
  contactTagsResponseSchema,
  getContactResponseSchema,
  importFailureBodySchema,
  importInfoResponseSchema,
  listContactsResponseSchema,
  listListsResponseSchema,
  listTagsResponseSchema,
  listWebhooksResponseSchema,
  updateContactListResponseSchema,
  webhookResponseSchema,
  type AcContact,
  type AcImportStatus,
  type AcList,
  type AcListMembership,
  type AcTag,
  type AcWebhook,
} from './activecampaign-schemas';
import type { RequestBudget } from './rate-limiter';

export type { AcContact, AcImportStatus, AcList, AcListMembership, AcTag, AcWebhook };

/** What onRequest reports for metrics. `route` is the path template, never the query (emails, secrets). */
export interface AcRequestInfo {
  method: string;
  route: string;
  status: number | null;
  durationMs: number;
  outcome: 'ok' | 'rate-limited' | 'server-error' | 'client-error' | 'timeout' | 'network-error' | 'bad-shape';
}

/** The subset of pino's logger this client uses. */
export interface AcLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ActiveCampaignClientOptions {
  /** The account's API URL as shown under Settings → Developer; AC says not to build it from the account name. */
  apiUrl: string;
  apiToken: string;
  rateLimiter: RequestBudget;
  timeoutMs: number;
  logger?: AcLogger;
  onRequest?: (info: AcRequestInfo) => void;
  /** Injectable for tests of Retry-After dates. */
  now?: () => number;
}

export interface ContactWithLists {
  contact: AcContact;
  lists: AcListMembership[];
}

export interface ContactsPage {
  contacts: ContactWithLists[];
  /** Pass as afterId for the next page; null when this page was the last. */
  nextAfterId: string | null;
}

export interface BulkUnsubscribeEntry {
  email: string;
  listIds: string[];
}

export interface WebhookSpec {
  name: string;
  url: string;
  events: string[];
  sources: string[];
  listId?: string;
}

/** Documented limits (research/activecampaign-api.md §1, §4). */
export const acLimits = {
  maxPageSize: 100,
  maxContactsPerImport: 250,
  /** A third-party rewrite of the help article states "≤ 399,999 bytes" (unverified): stay under it. */
  maxImportPayloadBytes: 390_000,
} as const;

/**
 * A deliberately plain check, not RFC 5322: it only has to keep out what AC's import validator rejects as
 * "Field 'email' incorrect format" (research §4), because one such address rejects the whole batch.
 */
export function isPlausibleEmail(email: string): boolean {
  return email.length <= 254 && /^[^\s@"<>(),;:\\[\]]+@[^\s@"<>(),;:\\[\]]+\.[^\s@"<>(),;:\\[\]]+$/.test(email);
}

interface RequestSpec<S extends z.ZodType> {
  method: 'GET' | 'POST' | 'PUT';
  /** Path template for metrics and messages, e.g. /contacts/{id}. */
  route: string;
  path: string;
  query?: Record<string, string | number | readonly string[] | undefined>;
  body?: unknown;
  schema: S;
}

export class ActiveCampaignClient {
  private readonly baseUrl: string;
  private readonly apiToken: string;
  private readonly budget: RequestBudget;
  private readonly timeoutMs: number;
  private readonly logger: AcLogger | undefined;
  private readonly onRequest: ((info: AcRequestInfo) => void) | undefined;
  private readonly now: () => number;

  constructor(options: ActiveCampaignClientOptions) {
    // Accept the account URL with or without /api/3 (both forms circulate in AC's UI and docs).
    this.baseUrl = options.apiUrl.replace(/\/+$/, '').replace(/\/api\/3$/, '') + '/api/3';
    this.apiToken = options.apiToken;
    this.budget = options.rateLimiter;
    this.timeoutMs = options.timeoutMs;
    this.logger = options.logger;
    this.onRequest = options.onRequest;
    this.now = options.now ?? Date.now;
  }

  /** GET /contacts?email= (exact match). Null when AC has no contact with that email. */
  async findContactByEmail(email: string): Promise<AcContact | null> {
    const page = await this.request({
      method: 'GET',
      route: '/contacts?email',
      path: '/contacts',
      query: { email },
      schema: listContactsResponseSchema,
    });
    return pickExactEmail(page.contacts, email);
  }

  /**
   * The contact and its list memberships in ONE call: GET /contacts?email=&include=contactLists (AC's sideloading,
   * research §2). Saves the second request that findContactByEmail + listContactLists would spend.
   */
  async findContactWithListsByEmail(email: string): Promise<ContactWithLists | null> {
    const page = await this.request({
      method: 'GET',
      route: '/contacts?email&include=contactLists',
      path: '/contacts',
      query: { email, include: 'contactLists' },
      schema: listContactsResponseSchema,
    });
    const contact = pickExactEmail(page.contacts, email);
    if (contact === null) return null;
    if (page.contactLists === undefined) {
      // `include` is not in AC's spec copy for /contacts (research §2): if an account ever ignores it, "no
      // sideload" must not read as "on no list", or an opt-out would silently unsubscribe nothing.
      return { contact, lists: await this.listContactLists(contact.id) };
    }
    return { contact, lists: page.contactLists.filter((m) => m.contactId === contact.id) };
  }

  /** GET /contacts/{id}: contactLists come sideloaded by default. Throws AcNotFoundError for a deleted contact. */
  async getContactWithLists(contactId: string): Promise<ContactWithLists> {
    const answer = await this.request({
      method: 'GET',
      route: '/contacts/{id}',
      path: `/contacts/${encodeURIComponent(contactId)}`,
      schema: getContactResponseSchema,
    });
    return {
      contact: answer.contact,
      lists: (answer.contactLists ?? []).filter((m) => m.contactId === answer.contact.id),
    };
  }

  /** GET /contacts/{id}/contactLists */
  async listContactLists(contactId: string): Promise<AcListMembership[]> {
    const answer = await this.request({
      method: 'GET',
      route: '/contacts/{id}/contactLists',
      path: `/contacts/${encodeURIComponent(contactId)}/contactLists`,
      schema: contactListsResponseSchema,
    });
    return answer.contactLists;
  }

  /**
   * POST /contactLists creates or updates one membership. Status 1 re-subscribes even someone who unsubscribed
   * by hand (AC's warning, research §3): only resubscribe-lists.ts sends 1, with sourceid 4 as AC asks for
   * re-subscriptions.
   */
  async setListStatus(
    contactId: string,
    listId: string,
    status: 1 | 2,
    { sourceId }: { sourceId?: number } = {},
  ): Promise<AcListMembership> {
    const contactList: Record<string, unknown> = {
      list: Number(listId),
      contact: Number(contactId),
      status,
    };
    if (sourceId !== undefined) contactList.sourceid = sourceId;
    const answer = await this.request({
      method: 'POST',
      route: '/contactLists',
      path: '/contactLists',
      body: { contactList },
      schema: updateContactListResponseSchema,
    });
    return answer.contactList;
  }

  /** GET /lists, every page (limit 100, offset; lists are few, so offset paging is fine). */
  async listLists(): Promise<AcList[]> {
    const all: AcList[] = [];
    for (let offset = 0; ; offset += acLimits.maxPageSize) {
      const page = await this.request({
        method: 'GET',
        route: '/lists',
        path: '/lists',
        query: { limit: acLimits.maxPageSize, offset },
        schema: listListsResponseSchema,
      });
      all.push(...page.lists);
      const total = page.meta?.total;
      if (page.lists.length < acLimits.maxPageSize || (total !== undefined && all.length >= total)) return all;
    }
  }

  /**
   * Contacts changed since a moment, with their list statuses and bounce fields: AC's own recipe
   * `include=contactLists&filters[updated_after]=` (research §2), paged with orders[id]=ASC + id_greater as AC
   * advises for large accounts (offset paging is slow there).
   */
  async listContactsUpdatedSince({
    updatedAfter,
    afterId,
    limit = acLimits.maxPageSize,
  }: {
    updatedAfter: Date;
    afterId?: string;
    limit?: number;
  }): Promise<ContactsPage> {
    return this.contactsPage('/contacts?updated_after', {
      'filters[updated_after]': updatedAfter.toISOString(),
      afterId,
      limit,
    });
  }

  /**
   * Up to 100 contacts by id with their list statuses in one request (`ids[]` repeated, as AC documents for
   * GET /contacts): the webhook processor reads a burst of deliveries this way instead of one GET per contact.
   */
  async getContactsWithLists(ids: readonly string[]): Promise<ContactWithLists[]> {
    if (ids.length === 0) return [];
    if (ids.length > acLimits.maxPageSize) throw new AcInvalidRequestError(`at most ${acLimits.maxPageSize} ids per call`);
    const page = await this.contactsPage('/contacts?ids', { 'ids[]': ids, afterId: undefined, limit: acLimits.maxPageSize });
    return page.contacts;
  }

  /** Every contact, id-ordered pages with their list statuses: the reconcile pass. */
  async listAllContactsPage({
    afterId,
    limit = acLimits.maxPageSize,
  }: { afterId?: string; limit?: number } = {}): Promise<ContactsPage> {
    return this.contactsPage('/contacts?all', { afterId, limit });
  }

  /**
   * POST /import/bulk_import with `unsubscribe` arrays: one batch, at most 250 contacts. Every email is checked
   * first because ONE invalid email makes AC reject the whole batch with 400 (research §4). Bulk import also
   * CREATES contacts that don't exist, so callers send only emails known to be in AC. exclude_automations:
   * automations run on imports by default, and an opt-out must not start any.
   */
  async bulkImportUnsubscribe(entries: BulkUnsubscribeEntry[]): Promise<string> {
    if (entries.length === 0) throw new AcInvalidRequestError('a bulk import needs at least one contact');
    if (entries.length > acLimits.maxContactsPerImport) {
      throw new AcInvalidRequestError(
        `a bulk import takes at most ${acLimits.maxContactsPerImport} contacts, got ${entries.length}`,
      );
    }
    const invalid = entries.map((e, index) => ({ index, ok: isPlausibleEmail(e.email) })).filter((e) => !e.ok);
    if (invalid.length > 0) {
      throw new AcInvalidRequestError(
        `bulk import refused before sending: ${invalid.length} invalid email(s) at position(s) ${invalid.map((e) => e.index).join(', ')}`,
      );
    }
    const body = bulkUnsubscribeBody(entries);
    if (Buffer.byteLength(JSON.stringify(body)) > acLimits.maxImportPayloadBytes) {
      throw new AcInvalidRequestError(
        `bulk import payload over ${acLimits.maxImportPayloadBytes} bytes: send fewer contacts`,
      );
    }
    const answer = await this.request({
      method: 'POST',
      route: '/import/bulk_import',
      path: '/import/bulk_import',
      body,
      schema: bulkImportResponseSchema,
    });
    return answer.batchId;
  }

  /** GET /import/info?batchId=: `success` holds contact IDs, `failure` holds emails. */
  async getImportStatus(batchId: string): Promise<AcImportStatus> {
    return this.request({
      method: 'GET',
      route: '/import/info',
      path: '/import/info',
      query: { batchId },
      schema: importInfoResponseSchema,
    });
  }

  /**
   * Idempotent webhook registration: GET /webhooks filtered by url, match url + name, create when absent, update
   * when the events/sources differ. AC never retries a delivery and sends no signature (research §6), so the URL
   * carries our secret: it never appears in messages or logs.
   */
  async ensureWebhook(spec: WebhookSpec): Promise<{
    webhook: AcWebhook;
    action: 'unchanged' | 'created' | 'updated';
  }> {
    const existing = await this.request({
      method: 'GET',
      route: '/webhooks',
      path: '/webhooks',
      query: { 'filters[url]': spec.url },
      schema: listWebhooksResponseSchema,
    });
    const payload = {
      webhook: {
        name: spec.name,
        url: spec.url,
        events: spec.events,
        sources: spec.sources,
        ...(spec.listId !== undefined ? { listid: spec.listId } : {}),
      },
    };
    const match = existing.webhooks.find((w) => w.url === spec.url && w.name === spec.name);
    if (match === undefined) {
      const created = await this.request({
        method: 'POST',
        route: '/webhooks',
        path: '/webhooks',
        body: payload,
        schema: webhookResponseSchema,
      });
      return { webhook: created.webhook, action: 'created' };
    }
    if (
      sameSet(match.events, spec.events) &&
      sameSet(match.sources, spec.sources) &&
      (spec.listId ?? '0') === match.listId
    ) {
      return { webhook: match, action: 'unchanged' };
    }
    const updated = await this.request({
      method: 'PUT',
      route: '/webhooks/{id}',
      path: `/webhooks/${encodeURIComponent(match.id)}`,
      body: payload,
      schema: webhookResponseSchema,
    });
    return { webhook: updated.webhook, action: 'updated' };
  }

  /** GET /tags?search=: "search" is a contains-match, and AC treats tag names case-insensitively (research §7). */
  async findTag(name: string): Promise<AcTag | null> {
    const answer = await this.request({
      method: 'GET',
      route: '/tags?search',
      path: '/tags',
      query: { search: name },
      schema: listTagsResponseSchema,
    });
    const wanted = name.toLowerCase();
    return answer.tags.find((t) => t.name.toLowerCase() === wanted) ?? null;
  }

  /** Scope check for rule R7 (only contacts carrying the integration tag). Two calls; cache the tag id upstream. */
  async contactHasTag(contactId: string, tagName: string): Promise<boolean> {
    const tag = await this.findTag(tagName);
    if (tag === null) return false;
    const answer = await this.request({
      method: 'GET',
      route: '/contacts/{id}/contactTags',
      path: `/contacts/${encodeURIComponent(contactId)}/contactTags`,
      schema: contactTagsResponseSchema,
    });
    return answer.contactTags.some((ct) => ct.tag === tag.id);
  }

  private async contactsPage(
    route: string,
    {
      afterId,
      limit,
      ...filters
    }: { afterId: string | undefined; limit: number } & Record<string, string | number | readonly string[] | undefined>,
  ): Promise<ContactsPage> {
    if (!(limit >= 1 && limit <= acLimits.maxPageSize)) {
      throw new AcInvalidRequestError(`limit must be 1..${acLimits.maxPageSize} (AC's maximum page size)`);
    }
    const page = await this.request({
      method: 'GET',
      route,
      path: '/contacts',
      query: {
        ...filters,
        include: 'contactLists',
        'orders[id]': 'ASC',
        id_greater: afterId,
        limit,
      },
      schema: listContactsResponseSchema,
    });
    const byContact = new Map<string, AcListMembership[]>();
    for (const membership of page.contactLists ?? []) {
      const list = byContact.get(membership.contactId) ?? [];
      list.push(membership);
      byContact.set(membership.contactId, list);
    }
    const contacts = page.contacts.map((contact) => ({
      contact,
      lists: byContact.get(contact.id) ?? [],
    }));
    // A short page is the last one; a full page may be followed by more.
    const last = contacts[contacts.length - 1];
    return {
      contacts,
      nextAfterId: contacts.length === limit && last !== undefined ? last.contact.id : null,
    };
  }

  private async request<S extends z.ZodType>(spec: RequestSpec<S>): Promise<z.output<S>> {
    const where = `${spec.method} ${spec.route}`;
    const url = new URL(this.baseUrl + spec.path);
    for (const [key, value] of Object.entries(spec.query ?? {})) {
      if (Array.isArray(value)) for (const item of value) url.searchParams.append(key, String(item));
      else if (value !== undefined) url.searchParams.set(key, String(value));
    }
    await this.budget.acquire();
    const started = this.now();
    const report = (status: number | null, outcome: AcRequestInfo['outcome']): void => {
      this.onRequest?.({
        method: spec.method,
        route: spec.route,
        status,
        durationMs: this.now() - started,
        outcome,
      });
    };

    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method: spec.method,
        headers: {
          'Api-Token': this.apiToken,
          Accept: 'application/json',
          ...(spec.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: spec.body !== undefined ? JSON.stringify(spec.body) : undefined,
        // Covers the body too: a server that stalls mid-answer times out as well.
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      // By name, not instanceof: the DOMException may come from another realm (e.g. jest's VM context).
      const name = errorName(error);
      if (name === 'TimeoutError' || name === 'AbortError') {
        report(null, 'timeout');
        throw new AcTimeoutError(this.timeoutMs, where);
      }
      report(null, 'network-error');
      throw new AcNetworkError(where, describeNetworkFailure(error));
    }

    const status = response.status;
    const body = parseJson(text);

    if (status === 429 || status === 503) {
      // AC: 429 + Retry-After seconds; older reports: 503 at the limit (research §1). The budget is the
      // ACCOUNT's, so every caller of this process holds back, not just this one.
      const retryAfterMs = parseRetryAfterMs(response.headers.get('retry-after'), this.now()) ?? 1000;
      if (!isImportRateLimitBody(body)) {
        this.budget.pauseFor?.(retryAfterMs);
        report(status, 'rate-limited');
        this.logger?.warn({ route: spec.route, status, retryAfterMs }, 'ActiveCampaign throttled the account');
        throw new AcRateLimitedError(retryAfterMs, status, 'account', where);
      }
    }
    if ((status === 400 || status === 429) && spec.route.startsWith('/import/') && isImportRateLimitBody(body)) {
      // The import endpoint's own limit, documented under 400 with "Rate limit exceeded." and "retry this
      // request in a minute" (research §4). It does not slow the account's other calls.
      const retryAfterMs = parseRetryAfterMs(response.headers.get('retry-after'), this.now()) ?? 60_000;
      report(status, 'rate-limited');
      throw new AcRateLimitedError(retryAfterMs, status, 'bulk-import', where);
    }
    if (status >= 500) {
      report(status, 'server-error');
      throw new AcServerError(status, where);
    }
    if (status >= 400) {
      report(status, 'client-error');
      const detail = errorDetail(body);
      if (status === 404) throw new AcNotFoundError(status, where, detail);
      throw new AcClientError(status, where, detail);
    }
    if (body === undefined) {
      report(status, 'bad-shape');
      throw new AcResponseShapeError(where, ['body: not JSON']);
    }
    const parsed = spec.schema.safeParse(body);
    if (!parsed.success) {
      report(status, 'bad-shape');
      const issues = parsed.error.issues.slice(0, 5).map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
      this.logger?.warn({ route: spec.route, status, issues }, 'ActiveCampaign answer failed validation');
      throw new AcResponseShapeError(where, issues);
    }
    report(status, 'ok');
    this.logger?.debug({ route: spec.route, status }, 'ActiveCampaign request done');
    return parsed.data;
  }
}

function bulkUnsubscribeBody(entries: BulkUnsubscribeEntry[]): unknown {
  return {
    contacts: entries.map((entry) => ({
      email: entry.email,
      // The docs' example sends listid as a number.
      unsubscribe: entry.listIds.map((listId) => ({ listid: Number(listId) })),
      exclude_automations: true,
    })),
  };
}

/**
 * AC answers `email=` with an exact match, but a field report (Pipedream #4612) saw a made-up email return
 * another contact: never trust the first row, compare (case-insensitively, emails are) ourselves.
 */
function pickExactEmail(contacts: AcContact[], email: string): AcContact | null {
  const wanted = email.trim().toLowerCase();
  return contacts.find((c) => c.email.trim().toLowerCase() === wanted) ?? null;
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isImportRateLimitBody(body: unknown): boolean {
  const parsed = importFailureBodySchema.safeParse(body);
  return parsed.success && /rate limit/i.test(parsed.data.message ?? '');
}

/** AC's own error text, shortened; it never echoes our token, and we never add headers or the query. */
function errorDetail(body: unknown): string {
  const parsed = acErrorBodySchema.safeParse(body);
  if (!parsed.success) return '';
  const fromErrors = (parsed.data.errors ?? []).map((e) => [e.title, e.detail].filter(Boolean).join(': ')).join('; ');
  return (parsed.data.message ?? fromErrors).slice(0, 200);
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(root)';
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');
}

function describeNetworkFailure(error: unknown): string {
  // undici puts the useful code (ECONNREFUSED, ENOTFOUND…) on error.cause; the URL is not included.
  const cause = typeof error === 'object' && error !== null && 'cause' in error ? error.cause : undefined;
  if (typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string')
    return cause.code;
  return errorName(error) ?? 'unknown error';
}

function errorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('name' in error)) return undefined;
  return typeof error.name === 'string' ? error.name : undefined;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((x) => right.has(x));
}
