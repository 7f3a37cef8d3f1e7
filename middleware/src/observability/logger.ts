// pino JSON logs, one line per decision. Secrets are removed twice: by key (anything named like a token) and by
// value (every configured secret, wherever it appears in the final line, e.g. inside an error message or URL).
import pino, { type Logger, type DestinationStream } from 'pino';
import { createHash } from 'node:crypto';

export type { Logger };

const redactPaths = [
  '*.authorization',
  '*.Authorization',
  '*.accessToken',
  '*.access_token',
  '*.apiToken',
  '*.token',
  '*.password',
  '*.secret',
  '*.clientSecret',
  '*.assertion',
  'headers["api-token"]',
  'headers.authorization',
];

export function createLogger(options: { level: string; secrets: string[]; destination?: DestinationStream; name?: string }): Logger {
  const secrets = [...new Set(options.secrets.filter((s) => s.length >= 6))].sort((a, b) => b.length - a.length);
  return pino(
    {
      name: options.name ?? 'optout-sync',
      level: options.level,
      redact: { paths: redactPaths, censor: '[REDACTED]' },
      hooks: {
        streamWrite(line) {
          let out = line;
          for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('[REDACTED]');
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
