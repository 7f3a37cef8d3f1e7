// Field history dates an opt-out only as well as the org kept it. Tracking switched off for a while and on again
// (an admin freeing one of the 20 tracked fields an object allows), or history rows deleted (Salesforce lets an
// admin delete field history through the API), leaves the newest row holding the record's value OLDER than the
// real last change. History can only be too old, never too new: a row is a change that really happened.
import { optOutRecency } from '../../src/sync/opt-out-recency';

const at = (s: string) => new Date(`2026-11-23T10:00:${s}Z`);

describe('optOutRecency with a field history that missed changes', () => {
  test('when the stream delivered an opt-out newer than the newest history row, then the opt-out keeps the stream\'s time (a subscribe between the two must not win)', () => {
    // Tracked: opted out at :01 (a row). Tracking off: opted in at :10, opted out again at :30 (the stream saw
    // both, no rows). Tracking on again: the newest row (:01) still holds `true`, the value the record holds.
    const r = optOutRecency(
      { optedOut: true, lastModified: at('30.000') },
      { optedOut: true, changedAt: at('30.000'), writtenAt: null, streamSeenAt: at('30.000') },
      at('01.000'),
    );
    // An AC subscribe at :20 is older than the opt-out at :30: R5 must refuse it, so the opt-out may not be :01.
    expect(r.optOutChangedAt!.getTime()).toBeGreaterThanOrEqual(at('30.000').getTime());
  });

  test('when the history dates an opt-out we never saw change, then the history\'s moment is used', () => {
    const r = optOutRecency({ optedOut: true, lastModified: at('50.000') }, undefined, at('05.000'));
    expect(r).toEqual({ optOutChangedAt: at('05.000'), unseenChangeAt: null });
  });

  test('when the history dates an opt-in older than the stream\'s time of it, then the older one stands (a doubtful unsubscribe wins)', () => {
    const r = optOutRecency(
      { optedOut: false, lastModified: at('30.000') },
      { optedOut: false, changedAt: at('30.000'), writtenAt: null, streamSeenAt: at('30.000') },
      at('01.000'),
    );
    expect(r.optOutChangedAt).toEqual(at('01.000'));
  });
});
