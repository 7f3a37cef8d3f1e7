import { planDrift } from '../../src/reconcile/drift-plan';
import { defaultSettings } from '../../src/sync/settings';
import type { AcContactState } from '../../src/sync/ac-transitions';

const t = (iso: string) => new Date(iso);
const record = (optedOut: boolean, lastModified = '2026-01-10T00:00:00Z') => ({ recordId: '003000000000001AAA', objectName: 'Contact' as const, optedOut, lastModified: t(lastModified) });
const contact = (over: Partial<AcContactState>): AcContactState => ({ acContactId: '7', email: 'p@example.com', listStatuses: {}, subscribedAt: {}, hardBounced: false, acUpdatedAt: t('2026-01-05T00:00:00Z'), ...over });

describe('planDrift', () => {
  it('when an opted-out record meets an unconfirmed list joined before the opt-out, then R1 drift names it', () => {
    const drifts = planDrift('p@example.com', [record(true)], contact({ listStatuses: { '1': 0, '2': 2 } }), new Map(), defaultSettings);
    expect(drifts).toEqual([expect.objectContaining({ direction: 'sf-to-ac', listIds: ['1'] })]);
  });

  it('when a hard bounce meets a Salesforce opt-in known to be newer, then the bounce still wins (R4)', () => {
    const known = new Map([['003000000000001AAA', { optedOut: false, changedAt: t('2026-02-01T00:00:00Z'), writtenAt: null, streamSeenAt: null }]]);
    const drifts = planDrift('p@example.com', [record(false)], contact({ listStatuses: { '1': 1 }, hardBounced: true }), known, defaultSettings);
    expect(drifts).toEqual([expect.objectContaining({ direction: 'ac-to-sf', pull: expect.objectContaining({ rule: 'R4' }) })]);
  });

  it('when AC lists are active and the record is opted in, or AC subscribed again after the opt-out, then there is no drift (R5 is never derived)', () => {
    expect(planDrift('p@example.com', [record(false)], contact({ listStatuses: { '1': 1 } }), new Map(), defaultSettings)).toEqual([]);
    const subscribedLater = contact({ listStatuses: { '1': 1 }, subscribedAt: { '1': t('2026-01-20T00:00:00Z') } });
    expect(planDrift('p@example.com', [record(true)], subscribedLater, new Map(), defaultSettings)).toEqual([]);
  });

  it('when the unsubscribe is older than a known Salesforce opt-in, then R3 is refused; with the opt-in of unknown time it is drift', () => {
    const unsubscribed = contact({ listStatuses: { '1': 2 } });
    const at = { '1': t('2026-01-01T00:00:00Z') };
    const known = new Map([['003000000000001AAA', { optedOut: false, changedAt: t('2026-01-02T00:00:00Z'), writtenAt: null, streamSeenAt: null }]]);
    expect(planDrift('p@example.com', [record(false)], unsubscribed, known, defaultSettings, at)).toEqual([]);
    expect(planDrift('p@example.com', [record(false)], unsubscribed, new Map(), defaultSettings, at)).toEqual([expect.objectContaining({ direction: 'ac-to-sf', pull: expect.objectContaining({ rule: 'R3', acEventAt: '2026-01-01T00:00:00.000Z' }) })]);
  });

  it('when an opted-out record now carries another address than its opt-out was recorded under, then the new address\'s lists joined before the edit are drift', () => {
    // Opted out in December under the old address; the Email was edited (LastModifiedDate 10 January) without the
    // stream seeing it; the new address joined a list on 5 January.
    const newAddress = contact({ listStatuses: { '1': 1 }, subscribedAt: { '1': t('2026-01-05T00:00:00Z') } });
    const knownOld = new Map([['003000000000001AAA', { optedOut: true, changedAt: t('2025-12-01T00:00:00Z'), writtenAt: null, streamSeenAt: null, email: 'old@example.com' }]]);
    expect(planDrift('p@example.com', [record(true)], newAddress, knownOld, defaultSettings)).toEqual([expect.objectContaining({ direction: 'sf-to-ac', listIds: ['1'] })]);
    // Under the same address, the list joined after the opt-out is the person's newer choice.
    const knownSame = new Map([['003000000000001AAA', { ...knownOld.get('003000000000001AAA')!, email: 'p@example.com' }]]);
    expect(planDrift('p@example.com', [record(true)], newAddress, knownSame, defaultSettings)).toEqual([]);
  });

  it('when push or pull is switched off in the settings, then that direction reports no drift', () => {
    expect(planDrift('p@example.com', [record(true)], contact({ listStatuses: { '1': 1 } }), new Map(), { ...defaultSettings, pushEnabled: false })).toEqual([]);
    expect(planDrift('p@example.com', [record(false)], contact({ listStatuses: { '1': 2 } }), new Map(), { ...defaultSettings, pullEnabled: false })).toEqual([]);
  });
});
