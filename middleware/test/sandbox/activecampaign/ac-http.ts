// Test-side HTTP helper for the AC emulator: real fetch on 127.0.0.1, answers read as text then JSON.
import type { ActiveCampaignEmulator } from '../../../src/sandbox/activecampaign';

export interface AcAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export async function acCall(
  emulator: ActiveCampaignEmulator,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = emulator.apiToken,
): Promise<AcAnswer> {
  const headers: Record<string, string> = {};
  if (token !== null) headers['Api-Token'] = token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${emulator.apiUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Narrowing helper for tests: reads a nested value by keys, or undefined. */
export function at(value: unknown, ...keys: (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}
