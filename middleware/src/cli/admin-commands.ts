// Commands that act on a RUNNING middleware through its admin API: dead-letter listing and retry, reconcile.
import { AdminApiClient, AdminApiError } from './admin-api-client';
import { errorText, formatTable, type Terminal } from './terminal';

export interface AdminTarget {
  url: string;
  token: string | undefined;
}

function clientFor(terminal: Terminal, target: AdminTarget): AdminApiClient | null {
  if (target.token === undefined || target.token === '') {
    terminal.warn('No admin token: pass --token or set ADMIN_TOKEN.');
    return null;
  }
  return new AdminApiClient(target.url, target.token);
}

async function reported(terminal: Terminal, action: () => Promise<number>): Promise<number> {
  try {
    return await action();
  } catch (error) {
    terminal.warn(error instanceof AdminApiError ? error.message : `failed: ${errorText(error)}`);
    return 1;
  }
}

export function listDeadLetters(terminal: Terminal, target: AdminTarget): Promise<number> {
  return reported(terminal, async () => {
    const client = clientFor(terminal, target);
    if (client === null) return 1;
    const letters = await client.deadLetters();
    if (letters.length === 0) {
      terminal.say('No dead letters: every job either succeeded or is still being retried.');
      return 0;
    }
    const rows = letters.map((l) => [l.id, l.kind, l.subject, String(l.attempts), l.failedAt.replace(/\.\d+Z$/, 'Z'), l.lastError]);
    for (const line of formatTable(['ID', 'KIND', 'SUBJECT', 'ATTEMPTS', 'FAILED AT', 'LAST ERROR'], rows)) terminal.say(line);
    terminal.say('');
    terminal.say(`${letters.length} dead letter(s). Retry one with: optout-sync dead-letters retry <ID>`);
    return 0;
  });
}

export function retryDeadLetter(terminal: Terminal, target: AdminTarget, id: string): Promise<number> {
  return reported(terminal, async () => {
    if (!/^\d+$/.test(id)) {
      terminal.warn(`"${id}" is not a dead-letter id (ids are numbers; see: optout-sync dead-letters list)`);
      return 1;
    }
    const client = clientFor(terminal, target);
    if (client === null) return 1;
    if (await client.retryDeadLetter(id)) {
      terminal.say(`Dead letter ${id} is back in the queue with fresh attempts.`);
      return 0;
    }
    terminal.warn(`No dead letter ${id} waiting for a retry (unknown id, or already retried).`);
    return 1;
  });
}

export function startReconcile(terminal: Terminal, target: AdminTarget): Promise<number> {
  return reported(terminal, async () => {
    const client = clientFor(terminal, target);
    if (client === null) return 1;
    await client.reconcile();
    terminal.say('Reconcile started: the middleware re-reads Contacts and Leads and queues whatever is out of step.');
    terminal.say('Follow it in the middleware logs or on its status page.');
    return 0;
  });
}
