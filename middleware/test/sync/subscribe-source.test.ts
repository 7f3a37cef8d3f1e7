// Issue 16 item 7: whose re-subscribe counts (R5). Pure rules; the e2e side is test/e2e/resubscribe-sources.test.ts.
import { judgeResubscribe, parseSubscribeSources, resolveResubscribe, subscribeSourceOf, type SubscribeSource } from '../../src/sync/subscribe-source';
import { settingsFromRecord, defaultSettings } from '../../src/sync/settings';

const delivered = (entries: Record<string, SubscribeSource[]>) => new Map(Object.entries(entries).map(([list, sources]) => [list, new Set(sources)]));
const at = new Date('2026-12-01T10:00:00Z');

describe('whose re-subscribe counts', () => {
  test('by default only the person counts: public yes; admin, api, system and unknown no', () => {
    expect(defaultSettings.r5SubscribeSources).toEqual(['public']);
    expect(judgeResubscribe(['1'], delivered({ 1: ['public'] }), ['public'])).toEqual({ counts: true, source: 'public' });
    for (const source of ['admin', 'api', 'system'] as const) {
      const verdict = judgeResubscribe(['1'], delivered({ 1: [source] }), ['public']);
      expect(verdict).toMatchObject({ counts: false, waiting: false });
      expect(verdict.counts === false && verdict.reason).toContain(`list 1 from ${source}`);
    }
    expect(judgeResubscribe(['1'], new Map(), ['public'])).toMatchObject({ counts: false, waiting: true });
  });

  test('a setting that counts unknown lets a subscribe seen only by a poll through', () => {
    expect(judgeResubscribe(['1'], new Map(), ['public', 'unknown'])).toEqual({ counts: true, source: 'unknown' });
  });

  test('two deliveries that disagree about one list leave the doubt: a forged public beside AC\'s own admin does not count', () => {
    expect(judgeResubscribe(['1'], delivered({ 1: ['admin', 'public'] }), ['public'])).toMatchObject({ counts: false, waiting: false });
  });

  test('one newly active list the person joined is enough', () => {
    expect(judgeResubscribe(['1', '2'], delivered({ 1: ['admin'], 2: ['public'] }), ['public'])).toEqual({ counts: true, source: 'public' });
  });

  test('initiated_from is read strictly: anything but the four documented values is unknown', () => {
    expect(subscribeSourceOf('public')).toBe('public');
    expect(subscribeSourceOf(' Admin ')).toBe('admin');
    expect(subscribeSourceOf('unknown')).toBe('unknown');
    expect(subscribeSourceOf('contact')).toBe('unknown');
    expect(subscribeSourceOf(undefined)).toBe('unknown');
    expect(subscribeSourceOf(['public'])).toBe('unknown');
  });

  test('a subscribe a read saw first waits for its delivery, keeps AC\'s date, and counts when the delivery says public', () => {
    const first = resolveResubscribe({ detected: { at, lists: ['1'] }, awaiting: null, listStatuses: { 1: 1 }, hardBounced: false, delivered: new Map(), counted: ['public'] });
    expect(first.queue).toBeNull();
    expect(first.awaiting).toEqual({ at, lists: ['1'] });
    expect(first.skipped).toContain('R5 waits');
    const again = resolveResubscribe({ detected: null, awaiting: first.awaiting, listStatuses: { 1: 1 }, hardBounced: false, delivered: new Map(), counted: ['public'] });
    expect(again).toEqual({ queue: null, awaiting: { at, lists: ['1'] }, skipped: null });
    const later = resolveResubscribe({ detected: null, awaiting: first.awaiting, listStatuses: { 1: 1 }, hardBounced: false, delivered: delivered({ 1: ['public'] }), counted: ['public'] });
    expect(later).toEqual({ queue: { at, lists: ['1'], source: 'public' }, awaiting: null, skipped: null });
  });

  test('a waiting subscribe ends when no list is active any more or the contact bounced, and when its delivery says admin', () => {
    const awaiting = { at, lists: ['1'] };
    expect(resolveResubscribe({ detected: null, awaiting, listStatuses: { 1: 2 }, hardBounced: false, delivered: delivered({ 1: ['public'] }), counted: ['public'] })).toEqual({ queue: null, awaiting: null, skipped: null });
    expect(resolveResubscribe({ detected: null, awaiting, listStatuses: { 1: 1 }, hardBounced: true, delivered: delivered({ 1: ['public'] }), counted: ['public'] }).queue).toBeNull();
    const admin = resolveResubscribe({ detected: null, awaiting, listStatuses: { 1: 1 }, hardBounced: false, delivered: delivered({ 1: ['admin'] }), counted: ['public'] });
    expect(admin.queue).toBeNull();
    expect(admin.awaiting).toBeNull();
    expect(admin.skipped).toContain('not counted');
  });

  test('while a subscribe waits, joining another list is no zero-to-some subscribe: only the waiting lists\' deliveries decide', () => {
    const outcome = resolveResubscribe({ detected: null, awaiting: { at, lists: ['1'] }, listStatuses: { 1: 1, 2: 1 }, hardBounced: false, delivered: delivered({ 2: ['public'] }), counted: ['public'] });
    expect(outcome).toEqual({ queue: null, awaiting: { at, lists: ['1'] }, skipped: null });
  });

  test('the setting is parsed from the package field, and a wrong name is refused with the name', () => {
    expect(parseSubscribeSources('public, admin;api')).toEqual(['public', 'admin', 'api']);
    expect(parseSubscribeSources('public, everyone')).toEqual({ error: expect.stringContaining('"everyone"') });
    expect(settingsFromRecord({ R5_Subscribe_Sources__c: 'Public, Unknown' }).r5SubscribeSources).toEqual(['public', 'unknown']);
    expect(settingsFromRecord({ R5_Subscribe_Sources__c: '  ' }).r5SubscribeSources).toEqual(['public']);
    expect(() => settingsFromRecord({ R5_Subscribe_Sources__c: 'everyone' })).toThrow(/R5_Subscribe_Sources__c[\s\S]*everyone|everyone[\s\S]*R5_Subscribe_Sources__c/);
  });
});
