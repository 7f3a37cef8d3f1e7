// When a Salesforce opt-out took its value, as R3/R5 need it: exact when the stream delivered the change, bounded
// (and waited for) when the record was modified after anything we know of it.
import { awaitingStream, optOutRecency, STREAM_CATCH_UP_MS } from '../../src/sync/opt-out-recency';

const at = (s: string) => new Date(`2026-11-23T10:00:${s}Z`);

describe('optOutRecency', () => {
  test('when the stream delivered the record\'s last change, then its commit time is the answer and nothing is awaited', () => {
    const r = optOutRecency({ optedOut: true, lastModified: at('05.000') }, { optedOut: true, changedAt: at('05.412'), writtenAt: null, streamSeenAt: null });
    expect(r).toEqual({ optOutChangedAt: at('05.412'), unseenChangeAt: null });
  });

  test('when Salesforce holds an opt-out the stream has not delivered, then its time is LastModifiedDate and the stream is awaited', () => {
    const r = optOutRecency({ optedOut: true, lastModified: at('09.000') }, { optedOut: false, changedAt: at('02.300'), writtenAt: null, streamSeenAt: null });
    expect(r).toEqual({ optOutChangedAt: at('09.000'), unseenChangeAt: at('09.000') });
  });

  test('when Salesforce holds an opt-in the stream has not delivered, then its time is the last known change (a doubtful unsubscribe wins)', () => {
    const r = optOutRecency({ optedOut: false, lastModified: at('09.000') }, { optedOut: true, changedAt: at('02.300'), writtenAt: null, streamSeenAt: null });
    expect(r).toEqual({ optOutChangedAt: at('02.300'), unseenChangeAt: at('09.000') });
  });

  test('when the value is the known one but the record was modified later (two unseen flips, or another field the stream has not delivered yet), then the stream is awaited', () => {
    const r = optOutRecency({ optedOut: true, lastModified: at('09.000') }, { optedOut: true, changedAt: at('02.300'), writtenAt: null, streamSeenAt: null });
    expect(r).toEqual({ optOutChangedAt: at('02.300'), unseenChangeAt: at('09.000') });
  });

  test('when the stream delivered a later change of another field, then the known opt-out time stands and nothing is awaited', () => {
    const r = optOutRecency({ optedOut: true, lastModified: at('09.000') }, { optedOut: true, changedAt: at('02.300'), writtenAt: null, streamSeenAt: at('09.120') });
    expect(r).toEqual({ optOutChangedAt: at('02.300'), unseenChangeAt: null });
  });

  test('when our own write explains the modification, then nothing is awaited', () => {
    const r = optOutRecency({ optedOut: true, lastModified: at('09.000') }, { optedOut: true, changedAt: at('02.300'), writtenAt: at('09.250'), streamSeenAt: null });
    expect(r).toEqual({ optOutChangedAt: at('02.300'), unseenChangeAt: null });
  });

  test('when our own write explains an older modification but a newer value stands, then the newer value is still awaited', () => {
    const r = optOutRecency({ optedOut: true, lastModified: at('20.000') }, { optedOut: false, changedAt: at('02.300'), writtenAt: at('09.250'), streamSeenAt: null });
    expect(r.unseenChangeAt).toEqual(at('20.000'));
  });

  test('when the record was never seen on the stream, then an opt-out dates from LastModifiedDate and an opt-in is undated, without waiting', () => {
    expect(optOutRecency({ optedOut: true, lastModified: at('09.000') }, undefined)).toEqual({ optOutChangedAt: at('09.000'), unseenChangeAt: null });
    expect(optOutRecency({ optedOut: false, lastModified: at('09.000') }, undefined)).toEqual({ optOutChangedAt: null, unseenChangeAt: null });
  });

  test('when the unseen change is older than the catch-up time, then the decision stops waiting', () => {
    const r = optOutRecency({ optedOut: true, lastModified: at('09.000') }, { optedOut: false, changedAt: at('02.300'), writtenAt: null, streamSeenAt: null });
    expect(awaitingStream(r.unseenChangeAt, new Date(at('09.000').getTime() + STREAM_CATCH_UP_MS - 1))).toBe(true);
    expect(awaitingStream(r.unseenChangeAt, new Date(at('09.000').getTime() + STREAM_CATCH_UP_MS))).toBe(false);
  });
});
