// Readiness's view of ActiveCampaign: real traffic proves it, probes are rare, failures show at once.
import { AcUsage } from '../../src/observability/ac-usage';
import { AcReadiness } from '../../src/server/ac-readiness';
import type { AcRequestInfo } from '../../src/activecampaign/activecampaign-client';

function setup() {
  let now = 1_000_000;
  const usage = new AcUsage(() => now);
  let probes = 0;
  let probeOutcome: AcRequestInfo['outcome'] = 'ok';
  const readiness = new AcReadiness({
    usage,
    now: () => now,
    freshMs: 60_000,
    probeEveryMs: 30_000,
    probe: async () => {
      probes++;
      usage.record({ method: 'GET', route: '/contacts', status: probeOutcome === 'ok' ? 200 : null, durationMs: 1, outcome: probeOutcome });
    },
  });
  return {
    usage,
    readiness,
    advance: (ms: number) => (now += ms),
    probes: () => probes,
    failProbes: () => (probeOutcome = 'network-error'),
  };
}

describe('ActiveCampaign readiness', () => {
  test('when real traffic answered within the last minute, then it is reachable without a probe', async () => {
    const t = setup();
    t.usage.record({ method: 'GET', route: '/contacts', status: 200, durationMs: 5, outcome: 'ok' });
    expect(await t.readiness.check()).toBe('reachable');
    expect(t.probes()).toBe(0);
  });

  test('when nothing talked to AC lately, then one probe is sent however often readiness is asked', async () => {
    const t = setup();
    await Promise.all([t.readiness.check(), t.readiness.check(), t.readiness.check()]);
    expect(await t.readiness.check()).toBe('reachable');
    expect(t.probes()).toBe(1);
    t.advance(61_000);
    expect(await t.readiness.check()).toBe('reachable');
    expect(t.probes()).toBe(2);
  });

  test('when the last AC call failed, then it is unreachable until an answer comes back, probing at most every 30 s', async () => {
    const t = setup();
    t.usage.record({ method: 'GET', route: '/contacts', status: 200, durationMs: 5, outcome: 'ok' });
    t.advance(1000);
    t.usage.record({ method: 'GET', route: '/contacts', status: null, durationMs: 3000, outcome: 'timeout' });
    t.failProbes();
    expect(await t.readiness.check()).toBe('unreachable');
    expect(await t.readiness.check()).toBe('unreachable');
    expect(t.probes()).toBe(1);
    t.advance(31_000);
    expect(await t.readiness.check()).toBe('unreachable');
    expect(t.probes()).toBe(2);
  });

  test('when AC refuses the token (401), then it counts as unreachable, while a 429 still proves AC answers', async () => {
    const t = setup();
    t.usage.record({ method: 'GET', route: '/contacts', status: 429, durationMs: 5, outcome: 'rate-limited' });
    expect(t.readiness.known()).toBe('reachable');
    t.advance(10);
    t.usage.record({ method: 'GET', route: '/contacts', status: 401, durationMs: 5, outcome: 'client-error' });
    expect(t.readiness.known()).toBe('unreachable');
  });
});
