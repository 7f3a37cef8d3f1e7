import { describe, expect, it } from '@jest/globals';
import {
  AcClientError,
  AcNetworkError,
  AcRateLimitedError,
  AcResponseShapeError,
  AcServerError,
  AcTimeoutError,
  AcInvalidRequestError,
  AcNotFoundError,
  isPermanent,
  isRetryable,
  parseRetryAfterMs,
  retryDelayMs,
} from '../../src/activecampaign/activecampaign-errors';

describe('isRetryable', () => {
  it('when the failure is throttling, 5xx, timeout or network, then it is retryable; 4xx and bad shapes are not', () => {
    expect(isRetryable(new AcRateLimitedError(1000, 429, 'account', 'GET /x'))).toBe(true);
    expect(isRetryable(new AcServerError(502, 'GET /x'))).toBe(true);
    expect(isRetryable(new AcTimeoutError(10, 'GET /x'))).toBe(true);
    expect(isRetryable(new AcNetworkError('GET /x', 'ECONNREFUSED'))).toBe(true);
    expect(isRetryable(new AcClientError(422, 'POST /x', 'Missing attribute'))).toBe(false);
    expect(isRetryable(new AcResponseShapeError('GET /x', ['contacts: expected array']))).toBe(false);
    expect(isRetryable(new Error('other'))).toBe(false);
  });
});

describe('isPermanent', () => {
  it('when AC refused the request or the client would not send it, then it is permanent; anything else may pass later', () => {
    expect(isPermanent(new AcClientError(422, 'POST /x', 'Missing attribute'))).toBe(true);
    expect(isPermanent(new AcNotFoundError(404, 'GET /x', ''))).toBe(true);
    expect(isPermanent(new AcInvalidRequestError('bad email in import'))).toBe(true);
    expect(isPermanent(new AcServerError(503, 'GET /x'))).toBe(false);
    expect(isPermanent(new AcResponseShapeError('GET /x', ['contacts: expected array']))).toBe(false);
    expect(isPermanent(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(false);
  });
});

describe('retryDelayMs', () => {
  it('when attempts grow, then the jitter ceiling doubles up to the maximum', () => {
    const top = () => 0.999999;
    const error = new AcServerError(500, 'GET /x');
    expect(retryDelayMs(error, 0, top, { baseMs: 100, maxMs: 1000 })).toBe(99);
    expect(retryDelayMs(error, 2, top, { baseMs: 100, maxMs: 1000 })).toBe(399);
    expect(retryDelayMs(error, 10, top, { baseMs: 100, maxMs: 1000 })).toBe(999);
    expect(retryDelayMs(error, 3, () => 0, { baseMs: 100 })).toBe(0);
  });

  it('when AC sent Retry-After, then the delay is never shorter than it', () => {
    const error = new AcRateLimitedError(30_000, 429, 'account', 'GET /x');
    expect(retryDelayMs(error, 0, () => 0)).toBe(30_000);
    expect(retryDelayMs(error, 1, () => 0.5, { baseMs: 500 })).toBe(30_500);
  });
});

describe('parseRetryAfterMs', () => {
  it('when the header is seconds or an HTTP date, then it becomes milliseconds; garbage is undefined', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs('30', now)).toBe(30_000);
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfterMs(null, now)).toBeUndefined();
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
  });
});
