// The usual e2e suite setup, written once.
import { startSandbox, testSecrets, type Sandbox } from './sandbox-harness';
import { waitFor } from './wait-for';
import { readyApp } from './sandbox-queries';
import type { Engine } from './test-databases';

/**
 * The usual e2e suite setup: one sandbox with a ready app for the whole describe block, closed after it. Returns a
 * getter (the sandbox exists only once beforeAll has run).
 */
export function readySandboxPerSuite(engine: Engine, options?: Parameters<typeof startSandbox>[1], appTiming?: Parameters<Sandbox['startApp']>[0]): () => Sandbox {
  let sandbox: Sandbox | undefined;
  beforeAll(async () => {
    sandbox = await startSandbox(engine, options);
    await sandbox.startApp(appTiming);
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });
  return () => {
    if (sandbox === undefined) throw new Error('the sandbox is started in beforeAll');
    return sandbox;
  };
}

/** Waits until every stored webhook delivery is processed and no job is queued or running (dead ones aside). */
export async function deliveriesAndQueueIdle(sandbox: Sandbox): Promise<void> {
  await waitFor(async () => (await sandbox.app!.store.webhookInbox.pending(10)).length === 0 && (await sandbox.app!.store.jobs.counts()).every((c) => c.n === 0 || c.state === 'dead'), { what: 'deliveries processed and queue idle' });
}

/** Waits for audit entries of an email with this result, and returns them. */
export async function auditedWith(sandbox: Sandbox, email: string, result: string) {
  return waitFor(async () => {
    const entries = (await sandbox.app!.store.audit.historyForEmail(email)).filter((h) => h.result === result);
    return entries.length > 0 ? entries : undefined;
  }, { what: `an audit "${result}" for ${email}` });
}

/** POSTs a webhook delivery as AC does (form-encoded), with the valid secret, as anyone who knows the URL can. */
export async function deliverWebhook(sandbox: Sandbox, fields: Record<string, string>): Promise<number> {
  const body = new URLSearchParams({ initiated_by: 'contact', date_time: new Date().toISOString(), ...fields }).toString();
  const res = await fetch(`${sandbox.app!.url}/webhooks/activecampaign/${testSecrets.webhookSecret}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  return res.status;
}
