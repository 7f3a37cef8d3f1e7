import { classifyBayeuxFailure } from '../../src/salesforce/bayeux-failures';
import type { BayeuxMessage } from '../../src/salesforce/faye-client';
import { readFixtureJson } from '../support/fixtures';

function fixture(name: string): BayeuxMessage {
  const json = readFixtureJson(`salesforce/bayeux/${name}`);
  return (Array.isArray(json) ? json[0] : json) as BayeuxMessage;
}

describe('classifyBayeuxFailure against the documented error replies', () => {
  test.each([
    ['err-401-authentication-invalid-meta-connect__handling-errors-v67.json', 'auth'],
    ['err-403-handshake-denied-401-nested__handling-errors-v67.json', 'auth'],
    ['err-401-request-requires-authentication-observed__restforce-issue-103.json', 'auth'],
    ['err-403-unknown-client__handling-errors-v67.json', 'unknown-client'],
    ['err-403-unknown-client-observed__openillumi-article.json', 'unknown-client'],
    // The documented 503 example says "401::Authentication invalid" with the real cause in ext.sfdc.failureReason.
    ['err-503-server-too-busy__handling-errors-v67.json', 'busy'],
    ['err-403-handshake-denied-connection-limit__handling-errors-v67.json', 'busy'],
  ])('when Salesforce answers %s, then the failure is %s', (name, kind) => {
    expect(classifyBayeuxFailure(fixture(name)).kind).toBe(kind);
  });

  test('when a subscribe names an expired replay id, then the failure says so and carries the id', () => {
    const failure = classifyBayeuxFailure({
      channel: '/meta/subscribe',
      successful: false,
      subscription: '/data/OptOutSync__chn',
      error:
        '400::The replayId {1553783} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.',
    });
    expect(failure).toMatchObject({ kind: 'replay-invalid', replayId: '1553783' });
  });

  test('when the daily delivery allocation is used up, then the failure is daily-limit', () => {
    const failure = classifyBayeuxFailure({
      channel: '/meta/connect',
      successful: false,
      error: '403::Organization total events daily limit exceeded',
      advice: { reconnect: 'none' },
    });
    expect(failure.kind).toBe('daily-limit');
  });
});
