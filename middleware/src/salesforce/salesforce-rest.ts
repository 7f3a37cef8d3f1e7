// A small typed REST client over fetch rather than jsforce: every answer (records, save results, error bodies)
// goes through a zod schema, the `Sforce-Call-Options` header and the one re-authentication on
// INVALID_SESSION_ID are explicit here instead of inside jsforce's request pipeline, and errors come out as the
// typed classes callers branch on. SalesforceSession.createConnection() still offers jsforce where it is handier.
import { z } from 'zod';
import { type FetchLike, type SalesforceSession, type SalesforceToken } from './salesforce-auth';
import {
  SalesforceApiError,
  SalesforceNetworkError,
  SalesforceResponseShapeError,
  SalesforceSessionExpiredError,
  SalesforceTimeoutError,
} from './salesforce-errors';
import { type Logger, silentLogger } from './logger-and-clock';

/** REST error body: `[{"message": "...", "errorCode": "...", "fields": [...]}]` (REST API "Status Codes and Error Responses"). */
const apiErrorBodySchema = z.array(
  z.object({ message: z.string().default(''), errorCode: z.string(), fields: z.array(z.string()).optional() }),
);

const queryPageSchema = z.object({
  totalSize: z.number().optional(),
  done: z.boolean(),
  nextRecordsUrl: z.string().optional(),
  records: z.array(z.unknown()),
});

/** sObject Collections answers one SaveResult per record, in request order ("sObject Collections" resource). */
const saveResultSchema = z.object({
  id: z.string().nullish(),
  success: z.boolean(),
  errors: z
    .array(
      z.object({
        statusCode: z.string(),
        message: z.string().default(''),
        fields: z.array(z.string()).default([]),
      }),
    )
    .default([]),
});
export type SaveResult = z.infer<typeof saveResultSchema>;

const describeSchema = z.object({ fields: z.array(z.object({ name: z.string() })) });
/** What the describe of an object tells about the asking user's access ("sObject Describe", REST API guide). */
const objectAccessSchema = z.object({
  name: z.string(),
  updateable: z.boolean().default(true),
  fields: z.array(z.object({ name: z.string(), updateable: z.boolean().default(true) })),
});
export type ObjectDescribeAccess = z.infer<typeof objectAccessSchema>;

const limitsSchema = z.record(z.string(), z.object({ Max: z.number(), Remaining: z.number() }).loose());
export type SalesforceLimits = z.infer<typeof limitsSchema>;

/** sObject Collections take at most 200 records per call. */
export const collectionsBatchSize = 200;
/** REST query runs as a GET: keep each IN list well below the URI length limit (16,384 bytes). */
const maxInListChars = 8000;
const maxInListItems = 200;

const apiNamePattern = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/;

/** SOQL string literal: backslash and single quote are escaped with a backslash (SOQL "Quoted String Escape Sequences"). */
export function soqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** SOQL dateTime literal: ISO 8601 in UTC without quotes, e.g. 2024-01-02T03:04:05Z. */
export function soqlDateTime(value: Date): string {
  return value.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function assertApiName(name: string, what: string): string {
  if (!apiNamePattern.test(name)) throw new Error(`invalid ${what} API name`);
  return name;
}

/** Splits values into IN lists that respect both an item cap and a character budget. */
export function chunkInLists(literals: string[], maxItems = maxInListItems, maxChars = maxInListChars): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const literal of literals) {
    if (current.length > 0 && (current.length >= maxItems || size + literal.length + 1 > maxChars)) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(literal);
    size += literal.length + 1;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export type RecordUpdate = { Id: string } & Record<string, unknown>;

/** The org's daily API use as the last REST answer reported it. */
export type SalesforceApiUsage = { used: number; max: number; at: Date };

/**
 * `Sforce-Limit-Info: api-usage=18/5000[; per-app-api-usage=17/250(appName=...)]` ("Limit Info Header", REST API
 * Developer Guide): returned on every REST call. undefined when the header is absent or unreadable.
 */
export function parseLimitInfo(header: string | null | undefined): { used: number; max: number } | undefined {
  if (!header) return undefined;
  const match = /(?:^|[;,\s])api-usage=(\d+)\/(\d+)/.exec(header);
  if (!match?.[1] || !match[2]) return undefined;
  return { used: Number(match[1]), max: Number(match[2]) };
}

/** Default time a Salesforce REST call may take, answer included, before it fails as transient. */
export const defaultSalesforceTimeoutMs = 30_000;

export class SalesforceRestClient {
  private readonly logger: Logger;
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;
  private readonly onApiUsage: ((usage: SalesforceApiUsage) => void) | undefined;
  private lastApiUsage: SalesforceApiUsage | null = null;

  constructor(
    private readonly session: SalesforceSession,
    options: {
      logger?: Logger;
      fetchImpl?: FetchLike;
      /** Per call, answer body included (default 30 s); a call that takes longer raises SalesforceTimeoutError. */
      timeoutMs?: number;
      /** Told the org's API use after every answer that carries Sforce-Limit-Info. */
      onApiUsage?: (usage: SalesforceApiUsage) => void;
      now?: () => Date;
    } = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.fetchImpl = options.fetchImpl ?? fetch;
    this.timeoutMs = options.timeoutMs ?? defaultSalesforceTimeoutMs;
    this.onApiUsage = options.onApiUsage;
    this.now = options.now ?? (() => new Date());
  }

  private readonly now: () => Date;

  /** The org's daily API use from the latest answer, or null before the first one. */
  apiUsage(): SalesforceApiUsage | null {
    return this.lastApiUsage;
  }

  /** Runs a SOQL query and follows nextRecordsUrl until done; each record is parsed with `schema`. */
  async query<T>(soql: string, schema: z.ZodType<T>): Promise<T[]> {
    const out: T[] = [];
    let path: string | undefined = `/query?q=${encodeURIComponent(soql)}`;
    while (path) {
      const page: z.infer<typeof queryPageSchema> = parseAnswer(queryPageSchema, await this.request('GET', path), 'query page');
      const pageStart = out.length;
      for (const [index, record] of page.records.entries()) {
        const parsed = schema.safeParse(record);
        if (!parsed.success) {
          const at = parsed.error.issues[0]?.path.join('.') ?? '';
          throw new SalesforceResponseShapeError(`query record ${pageStart + index}`, at);
        }
        out.push(parsed.data);
      }
      path = page.done ? undefined : page.nextRecordsUrl;
    }
    return out;
  }

  /**
   * Records whose Email is one of `emails`; SOQL compares strings case-insensitively, so casing need not match.
   * `condition` is a fixed SOQL condition ANDed to the email filter (e.g. `IsConverted = false`); never user input.
   */
  async findRecordsByEmails<T>(object: string, emails: string[], fields: string[], schema: z.ZodType<T>, { condition }: { condition?: string } = {}): Promise<T[]> {
    const unique = [...new Set(emails.map((email) => email.trim().toLowerCase()).filter((email) => email.length > 0))];
    const select = this.selectList(fields, ['Id', 'Email']);
    const out: T[] = [];
    for (const chunk of chunkInLists(unique.map(soqlString))) {
      out.push(
        ...(await this.query(
          `SELECT ${select} FROM ${assertApiName(object, 'object')} WHERE Email IN (${chunk.join(',')})${condition ? ` AND ${condition}` : ''}`,
          schema,
        )),
      );
    }
    return out;
  }

  /** Records modified after `since` (SystemModstamp by default: it also moves on system changes and is indexed). */
  async queryChangedSince<T>(
    object: string,
    since: Date,
    fields: string[],
    schema: z.ZodType<T>,
    { timestampField = 'SystemModstamp' }: { timestampField?: string } = {},
  ): Promise<T[]> {
    const stamp = assertApiName(timestampField, 'field');
    const select = this.selectList(fields, ['Id', stamp]);
    return this.query(
      `SELECT ${select} FROM ${assertApiName(object, 'object')} WHERE ${stamp} > ${soqlDateTime(since)} ORDER BY ${stamp} ASC`,
      schema,
    );
  }

  /**
   * Updates records through sObject Collections (PATCH /composite/sobjects, allOrNone false, <= 200 a call) and
   * returns one result per input record, in input order.
   */
  async updateRecords(object: string, records: RecordUpdate[]): Promise<SaveResult[]> {
    const type = assertApiName(object, 'object');
    const results: SaveResult[] = [];
    for (let start = 0; start < records.length; start += collectionsBatchSize) {
      const batch = records.slice(start, start + collectionsBatchSize);
      const body = {
        allOrNone: false,
        records: batch.map((record) => ({ attributes: { type }, ...record })),
      };
      const answer = parseAnswer(z.array(saveResultSchema), await this.request('PATCH', '/composite/sobjects', body), 'sObject Collections results');
      if (answer.length !== batch.length) {
        throw new SalesforceResponseShapeError('sObject Collections results', `length ${answer.length} for ${batch.length} records`);
      }
      results.push(...answer);
    }
    return results;
  }

  /**
   * Creates records through sObject Collections (POST /composite/sobjects, allOrNone false, <= 200 a call) and
   * returns one result per input record, in input order. `afterEachCall` runs after every call that answered, with
   * how many input records it covered: a caller can keep a cursor so that a later failed call does not repeat them.
   */
  async insertRecords(object: string, records: Record<string, unknown>[], afterEachCall?: (done: number) => Promise<void>): Promise<SaveResult[]> {
    const type = assertApiName(object, 'object');
    const results: SaveResult[] = [];
    for (let start = 0; start < records.length; start += collectionsBatchSize) {
      const batch = records.slice(start, start + collectionsBatchSize);
      const body = { allOrNone: false, records: batch.map((record) => ({ attributes: { type }, ...record })) };
      const answer = parseAnswer(z.array(saveResultSchema), await this.request('POST', '/composite/sobjects', body), 'sObject Collections results');
      if (answer.length !== batch.length) {
        throw new SalesforceResponseShapeError('sObject Collections results', `length ${answer.length} for ${batch.length} records`);
      }
      results.push(...answer);
      await afterEachCall?.(start + batch.length);
    }
    return results;
  }

  /**
   * Updates one record through sObject Rows unless it was modified after `since` (If-Unmodified-Since: Salesforce
   * compares it with LastModifiedDate, in whole seconds). 'modified' when Salesforce refused with 412 Precondition
   * Failed. sObject Collections has no such condition, hence one call per record.
   */
  async updateRecordUnlessModifiedSince(object: string, id: string, fields: Record<string, unknown>, since: Date): Promise<'updated' | 'modified'> {
    const path = `/sobjects/${assertApiName(object, 'object')}/${encodeURIComponent(id)}`;
    try {
      await this.request('PATCH', path, fields, { 'If-Unmodified-Since': since.toUTCString() });
      return 'updated';
    } catch (error) {
      if (error instanceof SalesforceApiError && error.httpStatus === 412) return 'modified';
      throw error;
    }
  }

  async describeFieldNames(object: string): Promise<Set<string>> {
    const body = parseAnswer(describeSchema, await this.request('GET', `/sobjects/${assertApiName(object, 'object')}/describe`), 'describe');
    return new Set(body.fields.map((field) => field.name));
  }

  /** The object as the integration user sees it: hidden fields are absent, read-only ones not updateable. */
  async describeAccess(object: string): Promise<ObjectDescribeAccess> {
    return parseAnswer(objectAccessSchema, await this.request('GET', `/sobjects/${assertApiName(object, 'object')}/describe`), 'describe');
  }

  async getLimits(): Promise<SalesforceLimits> {
    return parseAnswer(limitsSchema, await this.request('GET', '/limits'), 'limits');
  }

  private selectList(fields: string[], required: string[]): string {
    const all = [...required, ...fields].map((field) => assertApiName(field, 'field'));
    const seen = new Set<string>();
    return all.filter((field) => !seen.has(field.toLowerCase()) && seen.add(field.toLowerCase())).join(', ');
  }

  /**
   * One REST call. `pathOrUrl` is relative to /services/data/vXX.X, or an absolute path such as nextRecordsUrl.
   * INVALID_SESSION_ID re-authenticates once (SalesforceSession.withToken); a second one is an error.
   */
  async request(method: 'GET' | 'PATCH' | 'POST' | 'DELETE', pathOrUrl: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<unknown> {
    return this.session.withToken((token) => this.send(token, method, pathOrUrl, body, extraHeaders));
  }

  /**
   * Runs a SOQL query as a Bulk API 2.0 query job (POST /jobs/query, poll until JobComplete, then download the CSV
   * result sets by Sforce-Locator), handing each set's rows to `onRows` as it arrives, so a whole org never sits in
   * memory as one array. Fewer API calls than REST query pages for large results (one call per `maxRecords` rows, not
   * per 2,000), which matters against the org's daily allocation. Values arrive as CSV text ('' for null).
   * Why not jsforce's bulk2: the product's calls go through this client (session renewal on INVALID_SESSION_ID,
   * Sforce-Limit-Info accounting, timeouts, typed errors); jsforce would bypass all four.
   */
  async bulkQuery(soql: string, onRows: (rows: Record<string, string>[]) => Promise<void> | void, options: { pollMs?: number; maxRecords?: number; sleep?: (ms: number) => Promise<void> } = {}): Promise<number> {
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const created = parseAnswer(bulkJobSchema, await this.request('POST', '/jobs/query', { operation: 'query', query: soql, contentType: 'CSV', columnDelimiter: 'COMMA', lineEnding: 'LF' }), 'bulk query job');
    let state = created.state;
    while (state !== 'JobComplete') {
      if (state === 'Failed' || state === 'Aborted') throw new SalesforceApiError(500, 'BULK_QUERY_FAILED', `bulk query job ${state}`);
      await sleep(options.pollMs ?? 1000);
      state = parseAnswer(bulkJobSchema, await this.request('GET', `/jobs/query/${encodeURIComponent(created.id)}`), 'bulk query job').state;
    }
    let locator: string | null = null;
    let total = 0;
    do {
      const query: URLSearchParams = new URLSearchParams({ maxRecords: String(options.maxRecords ?? 50_000), ...(locator === null ? {} : { locator }) });
      const set: { text: string; locator: string | null } = await this.session.withToken((token): Promise<{ text: string; locator: string | null }> => this.send(token, 'GET', `/jobs/query/${encodeURIComponent(created.id)}/results?${query.toString()}`, undefined, { Accept: 'text/csv' }, true));
      const rows = parseCsv(set.text);
      total += rows.length;
      await onRows(rows);
      locator = set.locator === null || set.locator === 'null' || set.locator === '' ? null : set.locator;
    } while (locator !== null);
    return total;
  }

  private async send(token: SalesforceToken, method: string, pathOrUrl: string, body: unknown, extraHeaders: Record<string, string>): Promise<unknown>;
  private async send(token: SalesforceToken, method: string, pathOrUrl: string, body: unknown, extraHeaders: Record<string, string>, raw: true): Promise<{ text: string; locator: string | null }>;
  private async send(token: SalesforceToken, method: string, pathOrUrl: string, body: unknown, extraHeaders: Record<string, string>, raw = false): Promise<unknown> {
    const url = pathOrUrl.startsWith('/services/')
      ? `${token.instanceUrl}${pathOrUrl}`
      : `${token.instanceUrl}/services/data/v${this.session.apiVersion}${pathOrUrl}`;
    const headers: Record<string, string> = {
      ...extraHeaders,
      Authorization: `Bearer ${token.accessToken}`,
      Accept: extraHeaders.Accept ?? 'application/json',
      // Documented to tag the change's origin (REST API "Call Options Header"); CDC then shows client=<id>.
      'Sforce-Call-Options': `client=${this.session.productClientId}`,
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    // The path without its query string: a SOQL query may carry emails.
    const what = `${method} ${pathOrUrl.split('?')[0] ?? ''}`;
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      // A DOMException, which need not be an instance of this realm's Error: judged by its name.
      const name = typeof error === 'object' && error !== null && 'name' in error ? error.name : undefined;
      if (name === 'TimeoutError' || name === 'AbortError') throw new SalesforceTimeoutError(what, this.timeoutMs);
      throw new SalesforceNetworkError(what, error instanceof Error ? (causeCode(error) ?? error.message) : 'request failed');
    }
    const usage = parseLimitInfo(response.headers.get('sforce-limit-info'));
    if (usage !== undefined) {
      this.lastApiUsage = { ...usage, at: this.now() };
      this.onApiUsage?.(this.lastApiUsage);
    }
    if (raw && response.ok) return { text, locator: response.headers.get('sforce-locator') };
    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        if (response.ok) throw new SalesforceApiError(response.status, 'UNREADABLE_RESPONSE', 'response is not JSON');
      }
    }
    if (response.ok) return parsed;
    const errors = apiErrorBodySchema.safeParse(parsed);
    const first = errors.success ? errors.data[0] : undefined;
    if (response.status === 401 || first?.errorCode === 'INVALID_SESSION_ID') {
      throw new SalesforceSessionExpiredError(first?.errorCode ?? `HTTP ${response.status}`);
    }
    this.logger.warn({ method, status: response.status, errorCode: first?.errorCode }, 'salesforce REST call failed');
    throw new SalesforceApiError(
      response.status,
      first?.errorCode ?? 'UNKNOWN_ERROR',
      first === undefined ? `HTTP ${response.status}` : withoutQueryEcho(first.message),
      first?.fields ?? [],
    );
  }
}

/**
 * A refused SOQL query's message repeats the query ("\n<query>\n   ^\nERROR at Row:1:Column:12\n<reason>"), and
 * our queries list the emails asked for: only the reason and where it is are kept, so that the error can go to a
 * log, a job's last error or an audit entry. Other messages keep their text, any email address in them replaced.
 */
export function withoutQueryEcho(message: string): string {
  // Anchored on the literal marker only: no backtracking over a long query.
  const echo = /\nERROR at Row:(\d+):Column:(\d+)\n([\s\S]*)$/.exec(message);
  const text = echo === null ? message : `${echo[3]?.trim() ?? ''} (at row ${echo[1]}, column ${echo[2]} of the query)`;
  return text.replace(/[^\s@"'<>()[\],;:]+@[^\s@"'<>()[\],;:]+/g, '[email]');
}

const bulkJobSchema = z.object({ id: z.string(), state: z.enum(['Open', 'UploadComplete', 'InProgress', 'JobComplete', 'Failed', 'Aborted']) }).loose();

/**
 * Bulk API 2.0 CSV (RFC 4180: quoted fields, "" inside quotes, line breaks allowed inside quotes), first line the
 * column names. Exported for tests.
 */
export function parseCsv(text: string): Record<string, string>[] {
  const records: string[][] = [];
  let field = '';
  let row: string[] = [];
  let quoted = false;
  let i = 0;
  const endField = () => {
    row.push(field);
    field = '';
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += ch;
      i += 1;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === ',') endField();
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i += 1;
      endField();
      records.push(row);
      row = [];
    } else field += ch;
    i += 1;
  }
  if (field.length > 0 || row.length > 0) {
    endField();
    records.push(row);
  }
  const [header, ...data] = records;
  if (header === undefined) return [];
  return data.map((values) => Object.fromEntries(header.map((name, index) => [name, values[index] ?? ''])));
}

/** undici reports a refused connection as `fetch failed` with the system error in `cause`. */
function causeCode(error: Error): string | undefined {
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) return 'code' in cause && typeof cause.code === 'string' ? cause.code : cause.message;
  return undefined;
}

/** Parses a Salesforce answer; a shape we cannot read becomes a typed error naming the field, never a raw ZodError. */
function parseAnswer<T>(schema: z.ZodType<T>, answer: unknown, what: string): T {
  const parsed = schema.safeParse(answer);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new SalesforceResponseShapeError(what, `${issue?.path.join('.') ?? ''}${issue === undefined ? '' : `: ${issue.message}`}`);
}
