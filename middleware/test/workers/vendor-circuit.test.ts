// The circuit that keeps workers from burning attempts while a vendor keeps failing: it opens after a few failures
// in a row, lets exactly one probe through at a time with a capped, doubling delay, and closes on the first answer.
import { VendorCircuit } from '../../src/workers/vendor-circuit';
import { classifyFailure } from '../../src/workers/failure-class';
import { AcClientError, AcNetworkError, AcRateLimitedError, AcResponseShapeError, AcServerError } from '../../src/activecampaign/activecampaign-errors';
import { SalesforceApiError, SalesforceAuthError } from '../../src/salesforce/salesforce-errors';

describe('VendorCircuit', () => {
  let now = 0;
  const clock = () => new Date(now);

  test('when no work for the vendor waits any more (another instance did it), then an open circuit closes instead of staying degraded with nothing to probe with', () => {
    now = 1_000_000;
    const circuit = new VendorCircuit('activecampaign', { clock });
    for (let i = 0; i < 3; i++) circuit.failed('transient', '503');
    expect(circuit.state().open).toBe(true);
    circuit.nothingWaits();
    expect(circuit.state()).toMatchObject({ open: false, consecutiveFailures: 0 });
    expect(circuit.gate()).toBe('closed');
  });

  test('when a vendor fails three times in a row, then work stops except one probe at a time, spaced 2 s doubling to 60 s, and one answer lets everything through again', () => {
    const changes: boolean[] = [];
    const circuit = new VendorCircuit('activecampaign', { clock, onChange: (s) => changes.push(s.open) });
    circuit.failed('transient', '503');
    circuit.failed('transient', '503');
    expect(circuit.gate()).toBe('closed');
    circuit.failed('credentials', '401');
    expect(circuit.gate()).toBe('open');
    expect(circuit.state()).toMatchObject({ open: true, consecutiveFailures: 3, lastFailure: { failureClass: 'credentials', message: '401' } });
    const delays: number[] = [];
    let opened = now;
    for (let probe = 0; probe < 8; probe++) {
      while (circuit.gate() === 'open') now += 100;
      delays.push(now - opened);
      // Only one probe at a time: until it reports, the gate stays shut.
      expect(circuit.gate()).toBe('open');
      circuit.failed('transient', '503');
      opened = now;
    }
    expect(delays).toEqual([2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    while (circuit.gate() === 'open') now += 100;
    circuit.succeeded();
    expect(circuit.gate()).toBe('closed');
    expect(changes).toEqual([true, false]);
  });

  test('when a probe is allowed but finds no work (or its outcome is lost), then the next caller may probe: the circuit never stays shut', () => {
    const circuit = new VendorCircuit('salesforce', { clock, failureThreshold: 1 });
    circuit.failed('transient', 'timeout');
    now += 2000;
    expect(circuit.gate()).toBe('probe');
    circuit.probeUnused();
    expect(circuit.gate()).toBe('probe');
  });
});

describe('classifyFailure', () => {
  test.each([
    ['an AC outage', 'transient', new AcServerError(503, 'GET /contacts')],
    ['an AC throttle', 'transient', new AcRateLimitedError(1000, 429, 'account', 'GET /contacts')],
    ['a network failure', 'transient', new AcNetworkError('GET /contacts', 'ECONNREFUSED')],
    ['a proxy page instead of JSON', 'transient', new AcResponseShapeError('GET /contacts', ['body: not JSON'])],
    ['a rotated AC token', 'credentials', new AcClientError(401, 'GET /contacts', 'Unauthorized')],
    ['an AC permission', 'credentials', new AcClientError(403, 'GET /contacts', 'Forbidden')],
    ['an invalid email', 'permanent', new AcClientError(422, 'POST /contactLists', 'invalid')],
    ['a Salesforce daily limit', 'transient', new SalesforceApiError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.')],
    ['a Salesforce outage', 'transient', new SalesforceApiError(503, 'SERVER_UNAVAILABLE', 'down')],
    ['a field hidden by field-level security', 'credentials', new SalesforceApiError(400, 'INVALID_FIELD', 'No such column')],
    ['a refused Salesforce grant', 'credentials', new SalesforceAuthError('invalid_grant', 'expired', 400)],
    ['our own database', 'transient', new Error('Connection terminated unexpectedly')],
  ])('when the failure is %s, then it is %s', (_what, expected, error) => {
    expect(classifyFailure(error).failureClass).toBe(expected);
  });
});
