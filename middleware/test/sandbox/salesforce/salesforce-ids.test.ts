import { describe, expect, it } from '@jest/globals';
import { IdFactory, checksumSuffix, isValidSalesforceId } from '../../../src/sandbox/salesforce/salesforce-ids';

describe('Salesforce ids', () => {
  it('when a 15-character id from the documented examples is extended, then the suffix matches Salesforce', () => {
    // Pairs seen in fixtures/salesforce (18-character ids whose first 15 characters are the 15-character id).
    expect(checksumSuffix('001RM000004UF9s')).toBe('YAG');
    expect(checksumSuffix('005RM000001hv4S')).toBe('YAQ');
    expect(checksumSuffix('08pRj000005kYAH')).toBe('IA2');
  });

  it('when ids are generated, then they carry the key prefix, 18 characters and a valid suffix', () => {
    const ids = new IdFactory();
    const contact = ids.next('003');
    const lead = ids.next('00Q');
    expect(contact).toMatch(/^003[a-zA-Z0-9]{15}$/);
    expect(lead.startsWith('00Q')).toBe(true);
    expect(isValidSalesforceId(contact)).toBe(true);
    expect(contact).not.toBe(ids.next('003'));
  });
});
