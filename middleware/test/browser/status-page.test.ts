// The status page in real headless Chromium against the real middleware and both emulators: it asks for the token,
// shows a change made in the sandbox, draws its charts, and its Retry button brings a dead letter back to life.
// Chromium is a system package (Debian `chromium`); when it is missing this test fails, it never skips.
import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { engines } from '../support/test-databases';
import { startSandbox, testSecrets, type Sandbox } from '../support/sandbox-harness';
import { patchRecord } from '../support/salesforce-user';
import { isOptedOut, readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let browser: Browser;

beforeAll(async () => {
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(`Chromium is required for the status page test and is missing at ${chromiumPath}: install the Debian package (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
afterAll(async () => {
  await browser?.close();
});

describe.each(engines)('status page in Chromium on %s', (engine) => {
  let sandbox: Sandbox;
  let page: Page;
  const pageProblems: string[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox(engine);
    await sandbox.startApp();
    await readyApp(sandbox);
    page = await browser.newPage();
    page.on('console', (message) => {
      // The 401s are the deliberate wrong-token attempt below; anything else is a problem.
      if (message.type() === 'error' && !message.text().includes('status of 401')) pageProblems.push(message.text());
    });
    page.on('pageerror', (error) => pageProblems.push(error.message));
    // Nothing but the middleware itself: a CDN or any other host would show up here.
    page.on('request', (request) => {
      if (!request.url().startsWith(sandbox.app!.url)) pageProblems.push(`request to ${request.url()}`);
    });
  });
  afterAll(async () => {
    await page?.close();
    await sandbox?.close();
  });

  test('when the token is given, then the page shows the stream connected and keeps the token for this tab only', async () => {
    await page.goto(`${sandbox.app!.url}/status?refreshMs=250`);
    await page.locator('#login').waitFor({ state: 'visible' });
    await page.fill('#token', 'not-the-token');
    await page.click('#login-form button[type=submit]');
    await page.locator('#login-error').filter({ hasText: 'refused' }).waitFor();

    await page.fill('#token', testSecrets.adminToken);
    await page.click('#login-form button[type=submit]');
    await page.locator('#dashboard').waitFor({ state: 'visible' });
    await page.locator('#stream-state dd.ok').filter({ hasText: 'connected' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('optout-sync.adminToken'))).toBe(testSecrets.adminToken);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);

    await page.reload();
    await page.locator('#dashboard').waitFor({ state: 'visible' });
    expect(await page.locator('#login').isVisible()).toBe(false);
  });

  test('when a Contact opts out in Salesforce, then the change appears in the page and in the opt-out chart', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Browser News');
    ac.createContact('browser.push@example.com', { lists: { [list.id]: 1 } });
    const contact = String(sf.insert('Contact', { LastName: 'Browser', Email: 'browser.push@example.com', HasOptedOutOfEmail: false }).Id);
    await patchRecord(sf, 'Contact', contact, { HasOptedOutOfEmail: true });

    const row = page.locator('#changes-sf_to_ac tr').filter({ hasText: 'browser.push@example.com' });
    await row.first().waitFor();
    expect(await row.first().textContent()).toContain('unsubscribed');
    await page.locator('#opt-out-chart svg rect.sf-bar').first().waitFor();
    await page.locator('#ac-chart svg rect.req-bar').first().waitFor();
    expect(await page.locator('#ac-chart svg line.limit-line').count()).toBe(1);
  });

  test('when Salesforce refuses a write for good (a validation rule), then the job is dead and Retry in the page sends it back and it succeeds', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Browser Offers');
    ac.createContact('browser.pull@example.com', { lists: { [list.id]: 1 } });
    const contact = String(sf.insert('Contact', { LastName: 'Pull', Email: 'browser.pull@example.com', HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    sf.failNextWrites(contact, 'FIELD_CUSTOM_VALIDATION_EXCEPTION', 1);
    ac.unsubscribe('browser.pull@example.com', 'all');

    const deadRow = page.locator('#dead-letter-rows tr').filter({ hasText: 'browser.pull@example.com' });
    await deadRow.waitFor({ timeout: 20_000 });
    expect(isOptedOut(sandbox, 'Contact', contact)).toBe(false);
    expect(await deadRow.textContent()).toContain('FIELD_CUSTOM_VALIDATION_EXCEPTION');

    await deadRow.getByRole('button', { name: 'Retry' }).click();
    await page.locator('#dead-letter-message').filter({ hasText: 'sent back to the queue' }).waitFor();
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact), { what: 'retried job opted the Contact out' });
    await deadRow.waitFor({ state: 'detached' });
    await page.locator('#changes-ac_to_sf tr').filter({ hasText: 'browser.pull@example.com' }).filter({ hasText: 'written' }).first().waitFor();
  });

  // Leaves Salesforce writes paused (the pause outlasts the test): keep it after the tests that need them.
  test("when the org's daily API limit is reached, then the page shows the API use and that Salesforce writes wait", async () => {
    const { sf, ac } = sandbox;
    await page.locator('#stream-state dt').filter({ hasText: 'Salesforce API use (24 h)' }).waitFor();
    const list = ac.createList('Browser Limit');
    ac.createContact('browser.limit@example.com', { lists: { [list.id]: 1 } });
    sf.insert('Contact', { LastName: 'Limit', Email: 'browser.limit@example.com', HasOptedOutOfEmail: false });
    await sandbox.app!.pollNow();
    sf.setApiLimit({ max: sf.apiUsage().used, enforce: true });
    try {
      ac.unsubscribe('browser.limit@example.com', 'all');
      await page.locator('#stream-state dd.bad').filter({ hasText: 'paused: daily API limit reached' }).waitFor({ timeout: 20_000 });
      expect(await page.locator('#stream-state dd').filter({ hasText: / of \d+$/ }).count()).toBe(1);
    } finally {
      sf.setApiLimit({ max: 15000, enforce: false });
    }
  });

  test('when the page ran, then it logged no error, broke no content security rule and asked no other host', () => {
    expect(pageProblems).toEqual([]);
  });
});
