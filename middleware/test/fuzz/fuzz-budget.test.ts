// The issue asks for at least 10,000 generated and mutated inputs across the fuzz files; each file asserts that it
// ran its share, and this checks that the shares add up.
import { expect, test } from '@jest/globals';
import { fuzzShares, fuzzTotal } from './input-mutations';

test('when the fuzz files run their shares, then at least 10,000 inputs are fed in total', () => {
  expect(Object.keys(fuzzShares)).toEqual(['cometdChangeEvents', 'platformEvents', 'webhooks', 'responseParsers']);
  expect(fuzzTotal).toBeGreaterThanOrEqual(10_000);
});
