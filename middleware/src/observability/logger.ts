// pino JSON logs, one line per decision. Secrets are removed twice: by key (anything named like a token, at any depth,
// in any letter case) and by value (every configured secret, wherever it appears in the final line, e.g. inside an
// error message or URL, in the escaped form JSON gives it when it holds quotes or backslashes).
import pino, { type Logger, type DestinationStream } from 'pino';
import { createHash } from 'node:crypto';

export type { Logger };

export const REDACTED = '[REDACTED]';

/** Keys compared lower-case with '-' and '_' removed, so `Api-Token`, `API_TOKEN` and `apiToken` are one key. */
const sensitiveKeys = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'password',
  'passwd',
  'secret',
  'token',
  'assertion',
  'apikey',
  'xapikey',
  'privatekey',
  'privatekeypem',
  'sessionid',
  'databaseurl',
  'connectionstring',
]);
/** Any key ending like these (accessToken, refresh_token, webhookSecret, clientSecret, adminPassword, client_assertion). */
const sensitiveSuffixes = ['token', 'secret', 'password', 'apikey', 'privatekey', 'assertion', 'credentials'];

export function isSensitiveKey(key: string): boolean {
  const normalised = key.toLowerCase().replace(/[-_\s]/g, '');
  return sensitiveKeys.has(normalised) || sensitiveSuffixes.some((suffix) => normalised.endsWith(suffix));
}

/** Depth bound: log objects are small; anything deeper is cut rather than walked. */
const MAX_DEPTH = 12;

/**
 * A copy of a log object with every value under a sensitive key replaced. Booleans and null stay (a flag such as
 * `refreshToken: true` carries no secret and is useful); Errors become pino's serialised shape first, so that their
 * own properties (a request's headers, say) are walked too.
 */
export function redactKeys(value: unknown, seen = new WeakSet<object>(), depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Too deep]';
  seen.add(value);
  try {
    if (value instanceof Error) return redactKeys(pino.stdSerializers.err(value), seen, depth);
    if (Array.isArray(value)) return value.map((item) => redactKeys(item, seen, depth + 1));
    if (value instanceof Date || Buffer.isBuffer(value) || value instanceof URL) return value;
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = isSensitiveKey(key) && inner !== null && typeof inner !== 'boolean' && inner !== undefined ? REDACTED : redactKeys(inner, seen, depth + 1);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

const jsonEscaped = (s: string) => JSON.stringify(s).slice(1, -1);

/**
 * The forms a secret takes inside a JSON log line: escaped once (a string field), twice (a JSON body logged as a
 * string) and URL-encoded (a query or path). The raw form is deliberately absent when it differs from the escaped
 * one: a quote or backslash in the line is JSON syntax, and cutting it out would break the line.
 */
export function secretForms(secret: string): string[] {
  const forms = [jsonEscaped(secret), jsonEscaped(jsonEscaped(secret)), jsonEscaped(encodeURIComponent(secret))];
  return [...new Set(forms)];
}

const mayHoldSensitiveKey = /(token|secret|passw|authori|cookie|assertion|api.?key|private|session|database|connection)[^"]*":/i;

/**
 * Tokens obtained at run time are not configured secrets, so they cannot be cut by value: their shapes are. A
 * bearer credential after "Bearer " (an Authorization header quoted in an error), and a Salesforce session id (org
 * id, "!", then the token), wherever they appear in the line.
 */
const runtimeTokenShapes: [RegExp, string][] = [
  [/(Bearer\s+)[A-Za-z0-9\-._~+/!]+=*/gi, `$1${REDACTED}`],
  [/\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._-]+/g, REDACTED],
];

function redactLine(line: string): string {
  try {
    return `${JSON.stringify(redactKeys(JSON.parse(line)))}\n`;
  } catch {
    return line;
  }
}

export function createLogger(options: { level: string; secrets: string[]; destination?: DestinationStream; name?: string }): Logger {
  const forms = [...new Set(options.secrets.filter((s) => s.length >= 6).flatMap(secretForms))].sort((a, b) => b.length - a.length);
  return pino(
    {
      name: options.name ?? 'optout-sync',
      level: options.level,
      formatters: { log: (object) => redactKeys(object) as Record<string, unknown> },
      hooks: {
        streamWrite(line) {
          // A child's bindings are serialised once, when the child is made, without the log formatter (pino resets
          // it for children): they are checked here, on the final line, when a key in it looks sensitive at all.
          let out = mayHoldSensitiveKey.test(line) ? redactLine(line) : line;
          for (const form of forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
          for (const [shape, replacement] of runtimeTokenShapes) out = out.replace(shape, replacement);
          return out;
        },
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** Emails are personal data: logs carry a short stable hash to correlate lines, never the address. */
export function emailHash(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 12);
}
