// The reverse path's detector decides from AC's settled state and dates what it finds by AC's own records (list
// sdate/udate, the contact's udate), never by a delivery's word (issue 16 items 2 and 3).
import { detectTransitions, hasUndatedActiveList, mayHaveJoinedSince, type AcContactState, type PreviousAcState } from '../../src/sync/ac-transitions';

const observedAt = new Date('2026-12-06T12:00:00Z');
const at = (iso: string) => new Date(`2026-12-06T${iso}Z`);

function read(over: Partial<AcContactState>): AcContactState {
  return { acContactId: '7', email: 'p@example.com', listStatuses: {}, subscribedAt: {}, unsubscribedAt: {}, hardBounced: false, acUpdatedAt: null, ...over };
}

describe('detectTransitions', () => {
  test('an unsubscribe from the last list is dated by that list\'s udate, not by the contact\'s later udate', () => {
    const previous: PreviousAcState = { listStatuses: { '1': 1, '2': 2 }, hardBounced: false };
    const current = read({ listStatuses: { '1': 2, '2': 2 }, unsubscribedAt: { '1': at('10:00:05'), '2': at('08:00:00') }, acUpdatedAt: at('11:30:00') });
    expect(detectTransitions(previous, current, observedAt)).toEqual([{ rule: 'R3', kind: 'unsubscribed-from-all', at: at('10:00:05') }]);
  });

  test('a bounce that takes the last active list is dated by the bounce, not by an old unsubscribe (system model: second hard bounce after an opt-in)', () => {
    // Already hard-bounced (no new R4), list 1 left long ago, list 2 joined again and now bounced (status 3).
    const previous: PreviousAcState = { listStatuses: { '1': 2, '2': 1 }, hardBounced: true };
    const current = read({ listStatuses: { '1': 2, '2': 3 }, unsubscribedAt: { '1': at('06:00:00') }, hardBounced: true, acUpdatedAt: at('11:59:00') });
    expect(detectTransitions(previous, current, observedAt)).toEqual([{ rule: 'R3', kind: 'unsubscribed-from-all', at: at('11:59:00') }]);
  });

  test('unsubscribed from all before and after, with a newer unsubscribe in between, is a fresh opt-out', () => {
    const previous: PreviousAcState = { listStatuses: { '1': 2 }, hardBounced: false, lastUnsubscribedAt: at('08:00:00') };
    const current = read({ listStatuses: { '1': 2 }, subscribedAt: { '1': at('10:00:00') }, unsubscribedAt: { '1': at('10:00:30') } });
    expect(detectTransitions(previous, current, observedAt)).toEqual([{ rule: 'R3', kind: 'unsubscribed-from-all', at: at('10:00:30') }]);
  });

  test('unsubscribed from all before and after with the same dates is nothing new (the same read twice changes nothing)', () => {
    const previous: PreviousAcState = { listStatuses: { '1': 2 }, hardBounced: false, lastUnsubscribedAt: at('08:00:00') };
    const current = read({ listStatuses: { '1': 2 }, unsubscribedAt: { '1': at('08:00:00') } });
    expect(detectTransitions(previous, current, observedAt)).toEqual([]);
    // A snapshot from before the date was kept says nothing about it: no transition invented.
    expect(detectTransitions({ listStatuses: { '1': 2 }, hardBounced: false, lastUnsubscribedAt: null }, current, observedAt)).toEqual([]);
  });

  test('a subscribe that came and went between two reads is not an event: the settled state decides', () => {
    const previous: PreviousAcState = { listStatuses: { '1': 1, '2': 2 }, hardBounced: false, lastUnsubscribedAt: at('08:00:00') };
    // Left list 1 and joined it again in between: still active on it, nothing to do.
    const current = read({ listStatuses: { '1': 1, '2': 2 }, subscribedAt: { '1': at('10:01:00') }, unsubscribedAt: { '1': at('10:00:00'), '2': at('08:00:00') } });
    expect(detectTransitions(previous, current, observedAt)).toEqual([]);
  });

  test('an unreadable udate is ignored rather than taken for a time', () => {
    const previous: PreviousAcState = { listStatuses: { '1': 1 }, hardBounced: false };
    const current = read({ listStatuses: { '1': 2 }, unsubscribedAt: { '1': new Date('not a date') }, acUpdatedAt: at('09:00:00') });
    expect(detectTransitions(previous, current, observedAt)).toEqual([{ rule: 'R3', kind: 'unsubscribed-from-all', at: at('09:00:00') }]);
  });

  test('a list left without a date (our own R1, not yet dated by AC) makes the moment unknown: the latest bound, not an older list\'s udate (system model seeds 1498434858, -215646193)', () => {
    const previous: PreviousAcState = { listStatuses: { '1': 2, '2': 1 }, hardBounced: false, lastUnsubscribedAt: at('06:00:00') };
    const current = read({ listStatuses: { '1': 2, '2': 2 }, unsubscribedAt: { '1': at('06:00:00') }, acUpdatedAt: null });
    expect(detectTransitions(previous, current, observedAt)).toEqual([{ rule: 'R3', kind: 'unsubscribed-from-all', at: observedAt }]);
  });

  test('a bounced list (3) that now reads unsubscribed (2) is no fresh opt-out (system model seed -859367589: it undid an admin\'s opt-in made after the bounce)', () => {
    const previous: PreviousAcState = { listStatuses: { '1': 3, '2': 2, '3': 3 }, hardBounced: true, lastUnsubscribedAt: at('08:00:00') };
    const current = read({ listStatuses: { '1': 3, '2': 2, '3': 2 }, unsubscribedAt: { '2': at('08:00:00'), '3': at('10:00:00') }, hardBounced: true });
    expect(detectTransitions(previous, current, observedAt)).toEqual([]);
  });
});

describe('mayHaveJoinedSince (may the bulk import take this contact?)', () => {
  // Salesforce commits at 10:00:00.653; AC stamps whole seconds.
  const optOut = new Date('2026-12-07T10:00:00.653Z');
  test('when AC dates a subscribe in the next second, then the contact may have joined since, as the single path judges it', () => {
    // Found by an outside review: the old rule (a mark >= the opt-out + 1000 ms) let 10:00:01 through to the import,
    // where the single path keeps that list (its second is later).
    expect(mayHaveJoinedSince({ lastSubscribedAt: new Date('2026-12-07T10:00:01Z') }, optOut)).toBe(true);
  });
  test('when every mark is in the opt-out\'s own second or earlier, then the import may take it', () => {
    expect(mayHaveJoinedSince({ lastSubscribedAt: new Date('2026-12-07T10:00:00Z'), joinedSeenAt: new Date('2026-12-07T10:00:00.900Z'), acUpdatedAt: new Date('2026-12-07T09:59:00Z') }, optOut)).toBe(false);
    expect(mayHaveJoinedSince({ lastSubscribedAt: null, joinedSeenAt: null, acUpdatedAt: null }, optOut)).toBe(false);
  });
  test('when a read saw a join of unknown date, or AC re-dated the contact, in a later second, then it may have joined since', () => {
    expect(mayHaveJoinedSince({ joinedSeenAt: new Date('2026-12-07T10:00:02Z') }, optOut)).toBe(true);
    expect(mayHaveJoinedSince({ acUpdatedAt: new Date('2026-12-07T10:00:01.001Z') }, optOut)).toBe(true);
  });
});

describe('hasUndatedActiveList', () => {
  test('when an active or unconfirmed list has no subscribe date, then it is a join of unknown date; a dated one or a list left is not', () => {
    const sdate = new Date('2026-01-01T00:00:00Z');
    expect(hasUndatedActiveList({ listStatuses: { '1': 1, '2': 2 }, subscribedAt: { '1': sdate } })).toBe(false);
    expect(hasUndatedActiveList({ listStatuses: { '1': 1, '2': 0 }, subscribedAt: { '1': sdate } })).toBe(true);
    expect(hasUndatedActiveList({ listStatuses: { '1': 1 }, subscribedAt: { '1': new Date('nonsense') } })).toBe(true);
    expect(hasUndatedActiveList({ listStatuses: { '2': 2, '3': 3 }, subscribedAt: {} })).toBe(false);
  });
});
