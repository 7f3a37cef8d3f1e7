// The status page read by a Salesforce admin in headless Chromium: when the stream connected (not when it last
// polled), why each decision was made, echoes of our own writes folded into a count, one person's whole history by
// email, chart labels inside the chart, and a layout that fits a desktop (1400 px) and a phone (390 px), with
// screenshots of both kept for review (STATUS_SCREENSHOT_DIR, or a temporary directory printed by the test).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSandbox, testSecrets, type Sandbox } from '../support/sandbox-harness';
import { patchRecord } from '../support/salesforce-user';
import { readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const screenshotDir = process.env.STATUS_SCREENSHOT_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'optout-status-screens-'));

describe('status page in the admin\'s language', () => {
  let browser: Browser;
  let sandbox: Sandbox;
  let page: Page;
  const pageProblems: string[] = [];

  beforeAll(async () => {
    if (!fs.existsSync(chromiumPath)) throw new Error(`Chromium is required for the status page test and is missing at ${chromiumPath}: install the Debian package (apt-get install -y chromium) or set CHROMIUM_PATH`);
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    sandbox = await startSandbox('pglite');
    await sandbox.startApp();
    await readyApp(sandbox);
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (error) => pageProblems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageProblems.push(message.text());
    });
    await page.goto(`${sandbox.app!.url}/status?refreshMs=250`);
    await page.fill('#token', testSecrets.adminToken);
    await page.click('#login-form button[type=submit]');
    await page.locator('#stream-state dd.ok').filter({ hasText: 'connected' }).waitFor();
  });
  afterAll(async () => {
    await page?.close();
    await browser?.close();
    await sandbox?.close();
  });

  const streamItem = async (label: string) => page.locator('#stream-state dt', { hasText: label }).locator('xpath=following-sibling::dd[1]').textContent();

  test('when the stream keeps polling, then "Connected since" stays put while "Last heard" moves', async () => {
    type Stream = { connectedSince: number; lastConnectAt: number; clientsCreated: number };
    const stream = async () => ((await (await fetch(`${sandbox.app!.url}/admin/status`, { headers: { authorization: `Bearer ${testSecrets.adminToken}` } })).json()) as { stream: Stream }).stream;
    let before = await stream();
    // The emulator answers each long poll within a second here: several polls pass during this wait. On a loaded
    // host the client may be replaced meanwhile (a poll past its timeout): the wait then starts over from the new
    // client, whose connection time is the one that must stay put (found by CI).
    const after = await waitFor(async () => {
      const now = await stream();
      if (now.clientsCreated !== before.clientsCreated) {
        before = now;
        return null;
      }
      return now.lastConnectAt > before.lastConnectAt ? now : null;
    }, { timeoutMs: 30_000, what: 'a newer connect poll on the same CometD client' });
    expect(after.connectedSince).toBe(before.connectedSince);
    expect(after.connectedSince).toBeLessThanOrEqual(before.lastConnectAt);
    // The page shows that moment, and the moving one apart from it.
    const shown = await page.evaluate<string>(`new Date(${after.connectedSince}).toLocaleString()`);
    await page.locator('#stream-state dd').filter({ hasText: shown }).first().waitFor();
    expect(await streamItem('Connected since')).toBe(shown);
    expect(await streamItem('Last heard from Salesforce')).not.toBe('—');
  });

  test('when a Contact opts out, then its row says why, and echoes of our own writes fold into one counted row', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Admin Language');
    ac.createContact('why.column@example.com', { lists: { [list.id]: 1 } });
    const contact = String(sf.insert('Contact', { LastName: 'Why', Email: 'why.column@example.com', HasOptedOutOfEmail: false }).Id);
    await patchRecord(sf, 'Contact', contact, { HasOptedOutOfEmail: true });
    const row = page.locator('#changes-sf_to_ac tr').filter({ hasText: 'why.column@example.com' }).first();
    await row.waitFor();
    expect(await row.locator('td.why').textContent()).toBe('R1: Email Opt Out turned true');
    // The list by its name and the status in words, not "list 7: 1 → list 7: 2".
    await page.locator('#changes-sf_to_ac tr').filter({ hasText: '"Admin Language": subscribed → "Admin Language": unsubscribed' }).first().waitFor();

    // Thirty decisions that changed nothing (the value was already there), newer than the real change.
    await sandbox.app!.store.audit.record(
      Array.from({ length: 30 }, (_, i) => ({ direction: 'sf_to_ac' as const, email: `echo${i}@example.com`, recordId: contact, oldValue: 'true', newValue: 'true', decision: 'skip', reason: 'R6: already in step', result: 'skipped' })),
    );
    const folded = page.locator('#changes-sf_to_ac tr.echoes');
    await folded.filter({ hasText: '30 values already in step' }).waitFor();
    expect(await page.locator('#changes-sf_to_ac tr').filter({ hasText: 'echo7@example.com' }).count()).toBe(0);
    // The real change is still in view behind them.
    expect(await page.locator('#changes-sf_to_ac tr').filter({ hasText: 'why.column@example.com' }).count()).toBeGreaterThan(0);
  });

  test('when an email is searched, then that person\'s whole history is listed with directions and reasons', async () => {
    await page.fill('#search-email', 'WHY.column@example.com');
    await page.click('#search-form button[type=submit]');
    await page.locator('#search-message').filter({ hasText: 'recorded for why.column@example.com' }).waitFor();
    const rows = page.locator('#history-rows tr');
    expect(await rows.count()).toBeGreaterThan(0);
    expect((await rows.allTextContents()).some((text) => text.includes('Salesforce → AC') && text.includes('unsubscribe'))).toBe(true);
    expect(await page.locator('#history-rows td.why').allTextContents()).toContain('R1: Email Opt Out turned true');

    await page.fill('#search-email', 'nobody.here@example.com');
    await page.click('#search-form button[type=submit]');
    await page.locator('#search-message').filter({ hasText: 'Nothing recorded for nobody.here@example.com.' }).waitFor();
    expect(await page.locator('#history').isVisible()).toBe(false);
  });

  test('when the charts are drawn, then every axis label lies inside its chart', async () => {
    await page.locator('#opt-out-chart svg text.axis').first().waitFor();
    await page.locator('#ac-chart svg text.axis').first().waitFor();
    // Measured in one go inside the page: the charts are redrawn on every refresh.
    const labels = await page.evaluate<{ chart: string; text: string; inside: boolean }[]>(`[...document.querySelectorAll('.chart')].flatMap((chart) => {
      const svg = chart.querySelector('svg');
      const box = svg.getBoundingClientRect();
      return [...svg.querySelectorAll('text.axis')].map((t) => {
        const b = t.getBoundingClientRect();
        return { chart: chart.id, text: t.textContent, inside: b.left >= box.left - 0.5 && b.right <= box.right + 0.5 };
      });
    })`);
    expect(labels.length).toBeGreaterThanOrEqual(6);
    for (const label of labels) expect(label).toEqual({ ...label, inside: true });
  });

  test.each([1400, 390])('when the page is %i px wide, then nothing overflows the window and a screenshot is kept', async (width) => {
    await page.setViewportSize({ width, height: 1000 });
    await page.locator('#changes-sf_to_ac tr').first().waitFor();
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
    const file = path.join(screenshotDir, `status-${width}.png`);
    await page.screenshot({ path: file, fullPage: true });
    expect(fs.statSync(file).size).toBeGreaterThan(10_000);
    process.stdout.write(`status page screenshot: ${file}\n`);
  });

  test('when the page ran, then it logged no error', () => {
    expect(pageProblems).toEqual([]);
  });
});
