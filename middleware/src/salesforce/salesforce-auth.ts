// OAuth 2.0 for a server-to-server integration: the JWT bearer flow (Salesforce Help "OAuth 2.0 JWT Bearer Flow
// for Server-to-Server Integration") and the client credentials flow ("OAuth 2.0 Client Credentials Flow").
// Both post a form to <login or My Domain URL>/services/oauth2/token and answer {access_token, instance_url, id, ...}
// or {error, error_description} (e.g. `invalid_grant`).
import crypto from 'node:crypto';
import type { Connection } from 'jsforce';
import { z } from 'zod';
import { SalesforceAuthError, SalesforceSessionExpiredError } from './salesforce-errors';
import { type Clock, type Logger, silentLogger, systemClock } from './logger-and-clock';

export type SalesforceAuthConfig =
  | {
      kind: 'jwt-bearer';
      /** https://login.salesforce.com, https://test.salesforce.com or the org's My Domain URL: also the JWT `aud`. */
      loginUrl: string;
      clientId: string;
      username: string;
      privateKeyPem: string;
    }
  | {
      kind: 'client-credentials';
      /** The client credentials flow only works against the org's My Domain URL (not login.salesforce.com). */
      loginUrl: string;
      clientId: string;
      clientSecret: string;
    };

export type SalesforceToken = {
  accessToken: string;
  instanceUrl: string;
  /** User id from the identity URL (`.../id/<orgId>/<userId>`), when the token endpoint returns one. */
  userId: string | null;
  organizationId: string | null;
};

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  instance_url: z.url(),
  id: z.string().optional(),
  token_type: z.string().optional(),
  scope: z.string().optional(),
  issued_at: z.string().optional(),
});

const tokenErrorSchema = z.object({
  error: z.string(),
  error_description: z.string().optional(),
});

/** JWT lifetime: Salesforce accepts `exp` up to 3 minutes ahead (JWT bearer flow docs). */
const jwtLifetimeSeconds = 180;

function base64url(input: string | Buffer): string {
  return Buffer.from(input).toString('base64url');
}

/** RS256-signed assertion: iss = consumer key, sub = username, aud = login URL, exp = now + 3 min. */
export function buildJwtAssertion(
  config: { clientId: string; username: string; loginUrl: string; privateKeyPem: string },
  nowMs: number,
): string {
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const claims = base64url(
    JSON.stringify({
      iss: config.clientId,
      sub: config.username,
      aud: config.loginUrl.replace(/\/+$/, ''),
      exp: Math.floor(nowMs / 1000) + jwtLifetimeSeconds,
    }),
  );
  const signature = crypto.createSign('RSA-SHA256').update(`${header}.${claims}`).sign(config.privateKeyPem);
  return `${header}.${claims}.${base64url(signature)}`;
}

function identityIds(idUrl: string | undefined): { userId: string | null; organizationId: string | null } {
  const match = idUrl ? /\/id\/([A-Za-z0-9]{15,18})\/([A-Za-z0-9]{15,18})\/?$/.exec(idUrl) : null;
  return { organizationId: match?.[1] ?? null, userId: match?.[2] ?? null };
}

export type FetchLike = typeof fetch;

/** Obtains a fresh access token. Throws SalesforceAuthError on refusal; the message never contains secrets. */
export async function requestToken(
  config: SalesforceAuthConfig,
  { fetchImpl = fetch, clock = systemClock, timeoutMs = 30_000 }: { fetchImpl?: FetchLike; clock?: Clock; timeoutMs?: number } = {},
): Promise<SalesforceToken> {
  const form = new URLSearchParams();
  if (config.kind === 'jwt-bearer') {
    form.set('grant_type', 'urn:ietf:params:oauth:grant-type:jwt-bearer');
    form.set('assertion', buildJwtAssertion(config, clock.now()));
  } else {
    form.set('grant_type', 'client_credentials');
    form.set('client_id', config.clientId);
    form.set('client_secret', config.clientSecret);
  }
  const url = `${config.loginUrl.replace(/\/+$/, '')}/services/oauth2/token`;
  let response: Response;
  let text: string;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: form.toString(),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    // A timeout is a DOMException, not necessarily an instance of this realm's Error: judged by its name.
    const name = typeof error === 'object' && error !== null && 'name' in error ? error.name : undefined;
    if (name === 'TimeoutError' || name === 'AbortError') throw new SalesforceAuthError('timeout', `no answer within ${timeoutMs} ms`, 0);
    throw new SalesforceAuthError('network_error', error instanceof Error ? error.message : 'request failed', 0);
  }
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    throw new SalesforceAuthError('unreadable_response', 'token endpoint did not answer JSON', response.status);
  }
  if (!response.ok) {
    const parsed = tokenErrorSchema.safeParse(body);
    throw parsed.success
      ? new SalesforceAuthError(parsed.data.error, parsed.data.error_description ?? '', response.status)
      : new SalesforceAuthError('unexpected_error_body', 'token endpoint error without {error}', response.status);
  }
  const parsed = tokenResponseSchema.safeParse(body);
  if (!parsed.success) {
    const path = parsed.error.issues[0]?.path.join('.') ?? '';
    throw new SalesforceAuthError('unexpected_token_body', `token response field ${path} is invalid`, response.status);
  }
  return {
    accessToken: parsed.data.access_token,
    instanceUrl: parsed.data.instance_url.replace(/\/+$/, ''),
    ...identityIds(parsed.data.id),
  };
}

export type SalesforceSessionOptions = {
  auth: SalesforceAuthConfig;
  /** e.g. '62.0'. CometD needs >= 52.0 to deliver EventUuid (Platform Events guide, "EventUuid"). */
  apiVersion: string;
  /** Sent as `Sforce-Call-Options: client=<id>`; CDC's changeOrigin carries it back, which is how echoes are spotted. */
  productClientId: string;
  logger?: Logger;
  clock?: Clock;
  fetchImpl?: FetchLike;
  /** Longest a token request may take (default 30 s); a slower one fails as SalesforceAuthError 'timeout' (transient). */
  timeoutMs?: number;
};

/**
 * Holds the current token and refreshes it on demand. Concurrent callers that saw the same stale token share one
 * token request, so a burst of INVALID_SESSION_ID answers costs one re-authentication, not one per request.
 */
export class SalesforceSession {
  readonly apiVersion: string;
  readonly productClientId: string;
  private currentToken: SalesforceToken | null = null;
  private inFlight: Promise<SalesforceToken> | null = null;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private refreshCount = 0;

  constructor(private readonly options: SalesforceSessionOptions) {
    this.apiVersion = options.apiVersion.replace(/^v/, '');
    this.productClientId = options.productClientId;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
  }

  /** The current token, obtaining one first if there is none. */
  async token(): Promise<SalesforceToken> {
    return this.currentToken ?? this.refresh();
  }

  current(): SalesforceToken | null {
    return this.currentToken;
  }

  /** How many token requests succeeded (for status pages and tests). */
  refreshes(): number {
    return this.refreshCount;
  }

  /**
   * Gets a new token. Pass the token that failed: if another caller already replaced it, the newer token is
   * returned without another request.
   */
  async refresh(stale?: SalesforceToken): Promise<SalesforceToken> {
    if (stale && this.currentToken && this.currentToken.accessToken !== stale.accessToken) return this.currentToken;
    if (!this.inFlight) {
      this.inFlight = requestToken(this.options.auth, { fetchImpl: this.options.fetchImpl, clock: this.clock, ...(this.options.timeoutMs !== undefined ? { timeoutMs: this.options.timeoutMs } : {}) })
        .then((token) => {
          this.currentToken = token;
          this.refreshCount += 1;
          this.logger.info(
            { instanceUrl: token.instanceUrl, grant: this.options.auth.kind },
            'salesforce token obtained',
          );
          return token;
        })
        .finally(() => {
          this.inFlight = null;
        });
    }
    return this.inFlight;
  }

  /**
   * Runs `call` with the current token and re-authenticates once when it throws SalesforceSessionExpiredError
   * (what the REST client raises for INVALID_SESSION_ID). A second rejection propagates.
   */
  async withToken<T>(call: (token: SalesforceToken) => Promise<T>): Promise<T> {
    const first = await this.token();
    try {
      return await call(first);
    } catch (error) {
      if (!(error instanceof SalesforceSessionExpiredError)) throw error;
      this.logger.warn({}, 'salesforce session rejected; re-authenticating once');
      return call(await this.refresh(first));
    }
  }

  /**
   * A jsforce Connection on the current token, for code that prefers jsforce. jsforce 3 sends
   * `Sforce-Call-Options` from `callOptions` on every REST call, collections included (lib/http-api.js
   * beforeSend), and its refreshFn re-authenticates once on INVALID_SESSION_ID.
   */
  async createConnection(): Promise<Connection> {
    // Loaded on first use: jsforce costs ~35 MB of memory, and the running middleware talks REST and CometD
    // through its own typed clients.
    const jsforce = await import('jsforce');
    const token = await this.token();
    return new jsforce.Connection({
      instanceUrl: token.instanceUrl,
      accessToken: token.accessToken,
      version: this.apiVersion,
      callOptions: { client: this.productClientId },
      refreshFn: (conn, callback) => {
        this.refresh(this.currentToken ?? undefined).then(
          (fresh) => {
            conn.instanceUrl = fresh.instanceUrl;
            callback(null, fresh.accessToken);
          },
          (error: unknown) => callback(error instanceof Error ? error : new Error('re-authentication failed')),
        );
      },
    });
  }
}
