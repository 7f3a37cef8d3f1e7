// The sandbox's emulators answer their root URL (the one the sandbox prints) with a small index page instead of
// "Cannot GET /": every state link on it answers, and every command it shows works as written.
import { startSandboxServers, type SandboxServers } from '../../src/sandbox/run-sandbox-servers';

interface ShownCommand {
  method: string;
  url: string;
  body: unknown;
}

/** The curl commands of a page's <pre> block, as written there (HTML entities decoded, lines joined). */
function shownCommands(html: string): ShownCommand[] {
  const pre = /<pre>([\s\S]*?)<\/pre>/.exec(html)?.[1] ?? '';
  const text = pre.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').replace(/\\\n\s*/g, '');
  return text
    .split('\n')
    .filter((l) => l.startsWith('curl '))
    .map((line) => {
      const method = /-X (\w+)/.exec(line)?.[1] ?? 'GET';
      const url = /(?:-X \w+ |curl )'?(http[^\s']+)'?/.exec(line)![1]!;
      const data = /-d '([^']*)'/.exec(line)?.[1];
      return { method, url, body: data === undefined ? undefined : JSON.parse(data) };
    });
}

describe('emulator index pages', () => {
  let servers: SandboxServers;
  beforeAll(async () => {
    servers = await startSandboxServers({ salesforcePort: 0, activecampaignPort: 0 });
  });
  afterAll(async () => {
    await servers?.close();
  });

  async function page(base: string): Promise<string> {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    return response.text();
  }

  async function linksAnswer(base: string, html: string): Promise<void> {
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThanOrEqual(2);
    for (const link of links) expect({ link, status: (await fetch(new URL(link, base))).status }).toEqual({ link, status: 200 });
  }

  async function run(command: ShownCommand): Promise<Response> {
    return fetch(command.url, { method: command.method, headers: { 'content-type': 'application/json' }, body: command.body === undefined ? undefined : JSON.stringify(command.body) });
  }

  test('when the Salesforce emulator root is opened, then it says what it is, its links answer and its opt-out commands tick the field', async () => {
    const html = await page(servers.sf.url);
    expect(html).toContain('<h1>Salesforce emulator</h1>');
    expect(html).toContain('Tick Email Opt Out by hand');
    await linksAnswer(servers.sf.url, html);
    const [find, tick] = shownCommands(html);
    const records = (await (await run(find!)).json()) as { type: string; fields: { Id: string } }[];
    const contactId = records.find((r) => r.type === 'Contact')!.fields.Id;
    expect(servers.sf.get('Contact', contactId)?.HasOptedOutOfEmail).toBe(false);
    const response = await run({ ...tick!, url: tick!.url.replace('<Id>', contactId) });
    expect(response.status).toBe(200);
    expect(servers.sf.get('Contact', contactId)?.HasOptedOutOfEmail).toBe(true);
  });

  test('when the ActiveCampaign emulator root is opened, then it says what it is, its links answer and its commands act as the contact', async () => {
    const html = await page(servers.ac.url);
    expect(html).toContain('<h1>ActiveCampaign emulator</h1>');
    expect(html).toContain(`${servers.ac.url}/api/3`);
    await linksAnswer(servers.ac.url, html);
    const [unsubscribe, subscribe, bounce] = shownCommands(html);
    const email = 'katherine.johnson@example.com';
    expect((await run(unsubscribe!)).status).toBe(200);
    expect(Object.values(servers.ac.contactByEmail(email)!.lists).every((status) => Number(status) === 2)).toBe(true);
    expect((await run(subscribe!)).status).toBe(200);
    expect(Number(servers.ac.contactByEmail(email)!.lists['1'])).toBe(1);
    expect((await run(bounce!)).status).toBe(200);
  });
});
