// The emulator's root page: what it is, where its state can be read, and how to act as a contact by hand, for
// someone who opens the URL the sandbox printed in a browser.
const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function activeCampaignIndexPage(baseUrl: string): string {
  const url = escape(baseUrl);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ActiveCampaign emulator (optout-sync sandbox)</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f3f3f3;border-radius:4px}pre{padding:.6rem;overflow-x:auto}</style>
</head><body>
<h1>ActiveCampaign emulator</h1>
<p>A stand-in for an ActiveCampaign account, for the optout-sync sandbox and tests: API v3 at <code>${url}/api/3</code>
(contacts, lists, list memberships, bulk import, webhooks; the <code>Api-Token</code> header is required), the
account's rate limit of 5 requests per second, and webhook deliveries to what the middleware registered. Its data
lives in memory and is gone when the sandbox stops.</p>
<h2>State</h2>
<ul>
<li><a href="/__sandbox/contacts?email=katherine.johnson%40example.com">/__sandbox/contacts?email=&hellip;</a>: a contact and its status on each list (1 subscribed, 2 unsubscribed)</li>
<li><a href="/__sandbox/requests">/__sandbox/requests</a>: every API request the middleware made</li>
<li><a href="/__sandbox/webhook-deliveries">/__sandbox/webhook-deliveries</a>: the webhooks sent to the middleware</li>
<li><a href="/__sandbox/webhook-dispatches">/__sandbox/webhook-dispatches</a>: each change queued for webhooks, with its lost deliveries</li>
</ul>
<h2>Act as a contact by hand</h2>
<p>Unsubscribe from every list (the middleware then checks Email Opt Out on each Salesforce record with that email),
subscribe again, or hard-bounce:</p>
<pre>curl -X POST ${url}/__sandbox/unsubscribe -H 'content-type: application/json' \\
     -d '{"email":"katherine.johnson@example.com","listId":"all"}'
curl -X POST ${url}/__sandbox/subscribe -H 'content-type: application/json' \\
     -d '{"email":"katherine.johnson@example.com","listId":"1"}'
curl -X POST ${url}/__sandbox/hard-bounce -H 'content-type: application/json' \\
     -d '{"email":"katherine.johnson@example.com"}'</pre>
</body></html>
`;
}
