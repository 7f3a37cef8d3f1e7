// Where the admin commands find the running middleware and its token: --url / --token (or OPTOUT_SYNC_URL /
// ADMIN_TOKEN in the environment), else the env file the middleware itself was started with (.env, or the file
// `optout-sync sandbox` writes): its OPTOUT_SYNC_URL, or its HTTP_HOST and HTTP_PORT, and its ADMIN_TOKEN.
import fs from 'node:fs';
import { parseEnv } from 'node:util';
import type { AdminTarget } from './admin-commands';

export const defaultAdminUrl = 'http://127.0.0.1:8080';

/** A listener on every interface is reached on loopback from this machine. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export function readEnvFile(envFile: string): Record<string, string | undefined> {
  return fs.existsSync(envFile) ? parseEnv(fs.readFileSync(envFile, 'utf8')) : {};
}

/** options.url and options.token already hold --url / --token or OPTOUT_SYNC_URL / ADMIN_TOKEN (commander reads those). */
export function resolveAdminTarget(options: { url?: string; token?: string; envFile: string }): AdminTarget {
  const file = readEnvFile(options.envFile);
  const fromHostAndPort = file.HTTP_PORT !== undefined ? `http://${reachableHost(file.HTTP_HOST ?? '127.0.0.1')}:${file.HTTP_PORT}` : undefined;
  const url = options.url ?? file.OPTOUT_SYNC_URL ?? fromHostAndPort ?? defaultAdminUrl;
  const token = options.token ?? file.ADMIN_TOKEN;
  return { url: url.replace(/\/+$/, ''), token };
}
