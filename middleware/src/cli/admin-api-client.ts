// Talks to a running middleware's admin API (bearer token). Every answer is parsed with zod: the CLI may face an
// older or newer middleware, and a shape it cannot read is reported rather than printed half-understood.
import { z } from 'zod';

export class AdminApiError extends Error {
  constructor(message: string, readonly status: number | null) {
    super(message);
    this.name = 'AdminApiError';
  }
}

const deadLetterSchema = z.object({
  id: z.coerce.string(),
  kind: z.string(),
  subject: z.string(),
  attempts: z.number(),
  lastError: z.string(),
  failedAt: z.string(),
});
export type DeadLetterRow = z.infer<typeof deadLetterSchema>;

const auditEntrySchema = z.object({
  occurredAt: z.string(),
  direction: z.string(),
  recordId: z.string().nullable(),
  oldValue: z.string().nullable(),
  newValue: z.string().nullable(),
  decision: z.string(),
  reason: z.string(),
  result: z.string(),
});
export type AuditEntryRow = z.infer<typeof auditEntrySchema>;

export class AdminApiClient {
  private readonly baseUrl: string;

  constructor(baseUrl: string, private readonly token: string, private readonly timeoutMs = 15_000) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async deadLetters(): Promise<DeadLetterRow[]> {
    return (await this.call('GET', '/admin/dead-letters', z.object({ deadLetters: z.array(deadLetterSchema) }))).deadLetters;
  }

  /** False when there is no such dead letter or it was already retried (the API answers 404). */
  async retryDeadLetter(id: string): Promise<boolean> {
    const answer = await this.call('POST', `/admin/dead-letters/${encodeURIComponent(id)}/retry`, z.object({ retried: z.boolean() }), undefined, [404]);
    return answer.retried;
  }

  async reconcile(): Promise<void> {
    await this.call('POST', '/admin/reconcile', z.object({ started: z.boolean() }));
  }

  async history(email: string): Promise<AuditEntryRow[]> {
    return (await this.call('GET', `/admin/history/${encodeURIComponent(email)}`, z.object({ entries: z.array(auditEntrySchema) }))).entries;
  }

  async status(): Promise<unknown> {
    return this.call('GET', '/admin/status', z.unknown());
  }

  /** GET an admin path and parse the answer. */
  async get<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    return this.call('GET', path, schema);
  }

  /** POST a JSON body to an admin path and parse the answer (used by backfill). */
  async post<T>(path: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    return this.call('POST', path, schema, body);
  }

  private async call<T>(method: 'GET' | 'POST', path: string, schema: z.ZodType<T>, body?: unknown, acceptedErrors: number[] = []): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
      throw new AdminApiError(`cannot reach the middleware at ${this.baseUrl} (${cause}); is it running? (--url)`, null);
    }
    if (response.status === 401) throw new AdminApiError('the admin API refused the token (401): check --token or ADMIN_TOKEN', 401);
    if (!response.ok && !acceptedErrors.includes(response.status)) {
      throw new AdminApiError(`${method} ${path} answered ${response.status}`, response.status);
    }
    const parsed = schema.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) throw new AdminApiError(`${method} ${path} answered a shape this CLI does not know: ${z.prettifyError(parsed.error)}`, response.status);
    return parsed.data;
  }
}
