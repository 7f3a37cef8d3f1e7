// The OAuth 2.0 token endpoint of a Salesforce org: JWT bearer flow ("OAuth 2.0 JWT Bearer Flow for
// Server-to-Server Integration": RS256 assertion, iss = consumer key, sub = username, aud = login URL, exp)
// and client credentials flow ("OAuth 2.0 Client Credentials Flow"), the token response fields
// (access_token, instance_url, id, token_type, issued_at, signature, scope) and the error body
// {"error", "error_description"} with HTTP 400. Tokens can be revoked (/services/oauth2/revoke) or expired
// on demand so that INVALID_SESSION_ID and CometD 401 paths can be exercised.
import { createHmac, randomBytes } from 'node:crypto';
import express, { type Router } from 'express';
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { JwtError, publicKeyFromPem, verifyRs256 } from './jwt-rs256';
import type { EmulatedUser } from './org-data';

export interface SessionInfo {
  token: string;
  userId: string;
  issuedAt: number;
  /** Ends the session when reached; every use moves it to now + the session timeout (it is an inactivity timeout). */
  expiresAt: number;
  revoked: boolean;
}

/**
 * An org's default session timeout: "The session times out after 2 hours of inactivity by default" (Pub/Sub API
 * guide, "Authentication"; the Metadata API's "Error Handling for Session Expiration" gives the same default). An
 * expired session answers INVALID_SESSION_ID.
 */
export const defaultSessionTimeoutMs = 2 * 60 * 60 * 1000;

export interface OAuthConfig {
  clientId: string;
  clientSecret: string;
  jwtPublicKeyPem?: string;
  /** Audiences accepted in JWT assertions (the login URLs). */
  audiences: () => string[];
  instanceUrl: () => string;
  orgId: string;
  users: EmulatedUser[];
  /** User the client credentials flow runs as ("Run As" user of the connected app). */
  clientCredentialsUserId: string;
  now: () => Date;
  /** Session timeout (inactivity); default two hours. */
  tokenTtlMs?: number;
}

const tokenRequestSchema = z.object({
  grant_type: z.string().optional(),
  assertion: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
});

class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

export class OAuthServer {
  private readonly sessions = new Map<string, SessionInfo>();
  private publicKey: KeyObject | undefined;
  private sessionTimeoutMs: number;

  constructor(private readonly config: OAuthConfig) {
    if (config.jwtPublicKeyPem) this.publicKey = publicKeyFromPem(config.jwtPublicKeyPem);
    this.sessionTimeoutMs = config.tokenTtlMs ?? defaultSessionTimeoutMs;
  }

  /** Changes the org's session timeout; sessions already open keep the expiry of their last use until used again. */
  setSessionTimeout(ms: number): void {
    this.sessionTimeoutMs = ms;
    const now = this.config.now().getTime();
    for (const session of this.sessions.values()) session.expiresAt = Math.min(session.expiresAt, now + ms);
  }

  setJwtPublicKey(pem: string): void {
    this.publicKey = publicKeyFromPem(pem);
  }

  /** Issues a session directly (control API, seed scripts). */
  issue(userId: string): SessionInfo {
    const now = this.config.now().getTime();
    // Access tokens look like `<org id 15>!<opaque>`.
    const token = `${this.config.orgId.slice(0, 15)}!${randomBytes(48).toString('base64url')}`;
    const session: SessionInfo = {
      token,
      userId,
      issuedAt: now,
      revoked: false,
      expiresAt: now + this.sessionTimeoutMs,
    };
    this.sessions.set(token, session);
    return session;
  }

  /** The live session of a token, or undefined when it is unknown, revoked or expired. */
  validate(token: string): SessionInfo | undefined {
    const session = this.sessions.get(token);
    if (!session || session.revoked) return undefined;
    const now = this.config.now().getTime();
    if (now >= session.expiresAt) return undefined;
    session.expiresAt = now + this.sessionTimeoutMs;
    return session;
  }

  revoke(token: string): boolean {
    const session = this.sessions.get(token);
    if (!session) return false;
    session.revoked = true;
    return true;
  }

  revokeAll(): void {
    for (const session of this.sessions.values()) session.revoked = true;
  }

  /** Ends every session as a session timeout does (same effect for callers as a revoke). */
  expireAll(): void {
    const now = this.config.now().getTime();
    for (const session of this.sessions.values()) session.expiresAt = now;
  }

  private async grant(body: z.infer<typeof tokenRequestSchema>): Promise<SessionInfo> {
    if (body.grant_type === 'urn:ietf:params:oauth:grant-type:jwt-bearer') return this.jwtBearer(body.assertion);
    if (body.grant_type === 'client_credentials') {
      if (body.client_id !== this.config.clientId)
        throw new OAuthError('invalid_client_id', 'client identifier invalid');
      if (body.client_secret !== this.config.clientSecret)
        throw new OAuthError('invalid_client', 'invalid client credentials');
      return this.issue(this.config.clientCredentialsUserId);
    }
    throw new OAuthError('unsupported_grant_type', 'grant type not supported');
  }

  private async jwtBearer(assertion: string | undefined): Promise<SessionInfo> {
    if (!assertion) throw new OAuthError('invalid_grant', 'invalid assertion');
    if (!this.publicKey) throw new OAuthError('invalid_grant', 'invalid assertion');
    let payload;
    try {
      payload = verifyRs256(assertion, this.publicKey, Math.floor(this.config.now().getTime() / 1000));
    } catch (error) {
      if (error instanceof JwtError && error.reason === 'expired')
        throw new OAuthError('invalid_grant', 'expired authorization code');
      throw new OAuthError('invalid_grant', 'invalid assertion');
    }
    if (payload.iss !== this.config.clientId) throw new OAuthError('invalid_client_id', 'client identifier invalid');
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    const allowed = this.config.audiences().map((a) => a.replace(/\/$/, ''));
    if (!audiences.some((a) => typeof a === 'string' && allowed.includes(a.replace(/\/$/, '')))) {
      throw new OAuthError('invalid_grant', 'audience is invalid');
    }
    const user = this.config.users.find((u) => u.username.toLowerCase() === String(payload.sub ?? '').toLowerCase());
    if (!user) throw new OAuthError('invalid_grant', "user hasn't approved this consumer");
    return this.issue(user.id);
  }

  private tokenResponse(session: SessionInfo): Record<string, string> {
    const instanceUrl = this.config.instanceUrl();
    const id = `${instanceUrl}/id/${this.config.orgId}/${session.userId}`;
    const issuedAt = String(session.issuedAt);
    return {
      access_token: session.token,
      // signature = base64(HMAC-SHA256(id + issued_at, client secret)), so clients can verify the id URL.
      signature: createHmac('sha256', this.config.clientSecret)
        .update(id + issuedAt)
        .digest('base64'),
      scope: 'api',
      instance_url: instanceUrl,
      id,
      token_type: 'Bearer',
      issued_at: issuedAt,
    };
  }

  router(): Router {
    const router = express.Router();
    const form = express.urlencoded({ extended: false });
    router.post('/services/oauth2/token', form, async (req, res) => {
      const body = tokenRequestSchema.safeParse({ ...(req.body ?? {}), ...req.query });
      try {
        if (!body.success) throw new OAuthError('invalid_request', 'invalid request');
        const session = await this.grant(body.data);
        res.json(this.tokenResponse(session));
      } catch (error) {
        if (error instanceof OAuthError) {
          res.status(400).json({ error: error.error, error_description: error.description });
          return;
        }
        throw error;
      }
    });
    router.post('/services/oauth2/revoke', form, (req, res) => {
      const token = z.object({ token: z.string() }).safeParse({ ...(req.body ?? {}), ...req.query });
      if (!token.success || !this.revoke(token.data.token)) {
        res
          .status(400)
          .json({ error: 'unsupported_token_type', error_description: 'this token type is not supported' });
        return;
      }
      res.status(200).end();
    });
    return router;
  }
}
