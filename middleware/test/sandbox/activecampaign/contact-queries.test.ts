// GET /contacts as the poller uses it: email lookup, filters[updated_after], include=contactLists,
// orders[id]=ASC + id_greater, limit/offset with the documented maximum of 100, meta.total as a string,
// cdate/udate with the account's UTC offset, and the listChangeBumpsUdate option.
import { startActiveCampaignEmulator, type ActiveCampaignEmulator } from '../../../src/sandbox/activecampaign';
import { acCall, at } from './ac-http';

describe('AC emulator contact queries', () => {
  let emu: ActiveCampaignEmulator;
  let now: Date;
  afterEach(async () => {
    await emu.close();
  });

  async function start(options: { listChangeBumpsUdate?: boolean } = {}) {
    now = new Date('2026-11-23T06:02:03.456Z');
    emu = await startActiveCampaignEmulator({
      rateLimitPerSecond: 1000,
      utcOffset: '-05:00',
      now: () => now,
      ...options,
    });
  }

  test('when 150 contacts exist and 500 are asked for, then 100 come back and meta.total is the string "150"', async () => {
    await start();
    for (let i = 0; i < 150; i += 1) emu.createContact(`p${i}@example.com`);
    const page = await acCall(emu, 'GET', '/contacts?limit=500');
    expect((at(page.json, 'contacts') as unknown[]).length).toBe(100);
    expect(at(page.json, 'meta', 'total')).toBe('150');
    expect(at(page.json, 'meta', 'page_input', 'limit')).toBe(100);
    const defaultPage = await acCall(emu, 'GET', '/contacts');
    expect((at(defaultPage.json, 'contacts') as unknown[]).length).toBe(20);
    const last = await acCall(emu, 'GET', '/contacts?limit=100&offset=100');
    expect((at(last.json, 'contacts') as unknown[]).length).toBe(50);
  });

  test('when paging with orders[id]=ASC and id_greater, then each page continues after the last id', async () => {
    await start();
    for (let i = 0; i < 5; i += 1) emu.createContact(`k${i}@example.com`);
    const first = await acCall(emu, 'GET', '/contacts?orders%5Bid%5D=ASC&limit=2');
    const ids1 = (at(first.json, 'contacts') as { id: string }[]).map((c) => c.id);
    const second = await acCall(emu, 'GET', `/contacts?orders[id]=ASC&id_greater=${ids1[1]}&limit=2`);
    const ids2 = (at(second.json, 'contacts') as { id: string }[]).map((c) => c.id);
    expect([ids1, ids2]).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
    const desc = await acCall(emu, 'GET', '/contacts?orders[id]=DESC&limit=1');
    expect(at(desc.json, 'contacts', 0, 'id')).toBe('5');
  });

  test('when searching by email, then the match is exact and case-insensitive', async () => {
    await start();
    emu.createContact('Mixed.Case@Example.com');
    emu.createContact('mixed.case@example.co');
    const found = await acCall(emu, 'GET', `/contacts?email=${encodeURIComponent('mixed.case@example.com')}`);
    expect((at(found.json, 'contacts') as { email: string }[]).map((c) => c.email)).toEqual(['Mixed.Case@Example.com']);
    const none = await acCall(emu, 'GET', '/contacts?email=nobody%40example.com');
    expect(at(none.json, 'contacts')).toEqual([]);
    expect(at(none.json, 'meta', 'total')).toBe('0');
  });

  test('when dates are written, then cdate/udate carry the account offset', async () => {
    await start();
    emu.createContact('tz@example.com');
    const answer = await acCall(emu, 'GET', '/contacts/1');
    expect(at(answer.json, 'contact', 'cdate')).toBe('2026-11-23T01:02:03-05:00');
    expect(at(answer.json, 'contact', 'udate')).toBe('2026-11-23T01:02:03-05:00');
    expect(at(answer.json, 'contact', 'created_timestamp')).toBe('2026-11-23 01:02:03');
  });

  test('when a contact unsubscribes later, then filters[updated_after] with include=contactLists returns it with its lists', async () => {
    await start();
    emu.createList('Newsletter');
    emu.createContact('old@example.com', { lists: { '1': 1 } });
    emu.createContact('changed@example.com', { lists: { '1': 1 } });
    now = new Date('2026-11-23T07:00:00Z');
    emu.unsubscribe('changed@example.com', '1');
    const q = `filters[updated_after]=${encodeURIComponent('2026-11-23T01:30:00-05:00')}&include=contactLists`;
    const answer = await acCall(emu, 'GET', `/contacts?${q}`);
    expect((at(answer.json, 'contacts') as { email: string }[]).map((c) => c.email)).toEqual(['changed@example.com']);
    expect(at(answer.json, 'contacts', 0, 'contactLists')).toEqual(['2']);
    expect(at(answer.json, 'contactLists', 0)).toMatchObject({
      contact: '2',
      list: '1',
      status: '2',
      udate: '2026-11-23T02:00:00-05:00',
    });
    // A date-only value is read in the account's zone (AC's own recipe sends "2022-08-01").
    const byDay = await acCall(emu, 'GET', '/contacts?filters[updated_after]=2026-11-24');
    expect(at(byDay.json, 'contacts')).toEqual([]);
  });

  test('when listChangeBumpsUdate is off, then a list change alone does not bump udate', async () => {
    await start({ listChangeBumpsUdate: false });
    emu.createList('Newsletter');
    emu.createContact('quiet@example.com', { lists: { '1': 1 } });
    now = new Date('2026-11-23T08:00:00Z');
    emu.unsubscribe('quiet@example.com', '1');
    expect(emu.contactByEmail('quiet@example.com')?.udate).toBe('2026-11-23T01:02:03-05:00');
    const answer = await acCall(emu, 'GET', '/contacts?filters[updated_after]=2026-11-23T02:00:00-05:00');
    expect(at(answer.json, 'contacts')).toEqual([]);
  });

  test('when a contact hard-bounces, then counters, date, list status and bounce logs say so', async () => {
    await start();
    emu.createList('Newsletter');
    emu.createContact('bounce@example.com', { lists: { '1': 1 } });
    emu.hardBounce('bounce@example.com');
    const contact = await acCall(emu, 'GET', '/contacts/1');
    expect(at(contact.json, 'contact', 'bounced_hard')).toBe('1');
    expect(at(contact.json, 'contact', 'bounced_date')).toBe('2026-11-23');
    expect(at(contact.json, 'contactLists', 0, 'status')).toBe('3');
    const logs = await acCall(emu, 'GET', '/contacts/1/bounceLogs');
    expect(at(logs.json, 'bounceLogs', 0, 'email')).toBe('bounce@example.com');
  });

  test('when three soft bounces happen in a row, then the contact becomes bounced', async () => {
    await start();
    emu.createList('Newsletter');
    emu.createContact('soft@example.com', { lists: { '1': 1 } });
    emu.softBounce('soft@example.com');
    emu.softBounce('soft@example.com');
    expect(emu.contactByEmail('soft@example.com')?.lists).toEqual({ '1': 1 });
    const view = emu.softBounce('soft@example.com');
    expect(view.lists).toEqual({ '1': 3 });
    expect(view.bouncedSoft).toBe(3);
  });

  test('when a tag is created twice in another case, then the second is refused; tagging shows on the contact', async () => {
    await start();
    emu.createContact('tagme@example.com');
    expect((await acCall(emu, 'POST', '/tags', { tag: { tag: 'OptOutSync', tagType: 'contact' } })).status).toBe(201);
    expect((await acCall(emu, 'POST', '/tags', { tag: { tag: 'optoutsync', tagType: 'contact' } })).status).toBe(422);
    expect((await acCall(emu, 'POST', '/contactTags', { contactTag: { contact: '1', tag: '1' } })).status).toBe(201);
    const tags = await acCall(emu, 'GET', '/contacts/1/contactTags');
    expect(at(tags.json, 'contactTags', 0, 'tag')).toBe('1');
    expect(emu.contactByEmail('tagme@example.com')?.tags).toEqual(['OptOutSync']);
    const search = await acCall(emu, 'GET', '/tags?search=optout');
    expect(at(search.json, 'meta', 'total')).toBe('1');
  });
});
