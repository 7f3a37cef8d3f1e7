// The emulator's root page: what it is, where its state can be read, and how to tick Email Opt Out by hand, for
// someone who opens the URL the sandbox printed in a browser.
const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function salesforceIndexPage(baseUrl: string, apiVersion: string): string {
  const url = escape(baseUrl);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Salesforce emulator (optout-sync sandbox)</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f3f3f3;border-radius:4px}pre{padding:.6rem;overflow-x:auto}</style>
</head><body>
<h1>Salesforce emulator</h1>
<p>A stand-in for a Salesforce org, for the optout-sync sandbox and tests: OAuth 2.0 token endpoint, REST API v${escape(apiVersion)}
(SOQL subset, sObjects, Composite), and CometD streaming with Change Data Capture and platform events. Its data lives
in memory and is gone when the sandbox stops.</p>
<h2>State</h2>
<ul>
<li><a href="/__sandbox/state">/__sandbox/state</a>: org id, users, API calls so far, connected streaming clients</li>
<li><a href="/__sandbox/request-log">/__sandbox/request-log</a>: every request the middleware made</li>
<li><a href="/__sandbox/records?email=katherine.johnson%40example.com">/__sandbox/records?email=&hellip;</a>: the Contacts and Leads with an email</li>
</ul>
<h2>Tick Email Opt Out by hand</h2>
<p>Find the record's Id, then change the field as a user would; the change is streamed to the middleware, which
unsubscribes the email from every ActiveCampaign list.</p>
<pre>curl '${url}/__sandbox/records?email=katherine.johnson@example.com'
curl -X PATCH ${url}/__sandbox/records/Contact/&lt;Id&gt; -H 'content-type: application/json' \\
     -d '{"fields":{"HasOptedOutOfEmail":true}}'</pre>
</body></html>
`;
}
