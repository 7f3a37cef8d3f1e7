import { cdcChannel, optOutEvent } from '../../src/salesforce/package-names';
import { normaliseMessage, originClientId, sameSalesforceId } from '../../src/salesforce/change-normaliser';
import { MessageRejectedError } from '../../src/salesforce/salesforce-errors';
import { readFixtureJson } from '../support/fixtures';
import { cdcCreateMessage, cdcDeleteMessage, cdcUpdateMessage, relayEventMessage } from './cdc-fixture-variants';

const options = { productClientId: 'OptOutSync', integrationUserId: '005000000000INT' };

function rejection(run: () => unknown): MessageRejectedError {
  try {
    run();
  } catch (error) {
    if (error instanceof MessageRejectedError) return error;
    throw error;
  }
  throw new Error('expected a MessageRejectedError');
}

describe('normaliseMessage for CDC change events', () => {
  test('when an enriched Contact update changes HasOptedOutOfEmail, then one change carries the enriched email and the commit time', () => {
    const message = cdcUpdateMessage({});
    const result = normaliseMessage(cdcChannel.channel, message, options);
    expect(result).toMatchObject({ gaps: [], echoes: 0, ignored: 0 });
    expect(result.changes).toEqual([
      {
        recordId: '003RM000004UF9sYAG',
        objectName: 'Contact',
        email: 'Ada.Lovelace@example.com',
        optedOut: true,
        changedAt: new Date(1608073758000),
        changedBy: '005RM000001hv4SYAQ',
        changeOrigin: 'com/salesforce/api/soap/51.0;client=SfdcInternalAPI/',
        source: 'CDC',
        transactionKey: '0005e192-9e62-2554-3880-3c3718bd6308',
        replayId: '12',
        channel: cdcChannel.channel,
      },
    ]);
  });

  test('when a merged update carries 500 record ids, then it fans out into 500 changes with the same value', () => {
    const ids = Array.from({ length: 500 }, (_, i) => `00Q${String(i).padStart(12, '0')}AAA`);
    const message = cdcUpdateMessage({
      entityName: 'Lead',
      recordIds: ids,
      fields: { HasOptedOutOfEmail: false },
      dropFields: ['Email'],
    });
    const result = normaliseMessage(cdcChannel.channel, message, options);
    expect(result.changes).toHaveLength(500);
    expect(new Set(result.changes.map((change) => change.recordId))).toEqual(new Set(ids));
    expect(result.changes.every((c) => c.objectName === 'Lead' && c.optedOut === false && c.email === null)).toBe(true);
  });

  test('when the change origin carries the product client id, then the change is dropped as an echo', () => {
    const message = cdcUpdateMessage({
      recordIds: ['003000000000001AAA', '003000000000002AAA'],
      changeOrigin: 'com/salesforce/api/rest/62.0;client=OptOutSync',
    });
    const result = normaliseMessage(cdcChannel.channel, message, options);
    expect(result).toMatchObject({ changes: [], gaps: [], echoes: 2, ignored: 0 });
  });

  test('when the commit user is the integration user (18-character form of a 15-character id), then the change is an echo', () => {
    const message = cdcUpdateMessage({ changeOrigin: '', commitUser: '005000000000INTAAA' });
    expect(normaliseMessage(cdcChannel.channel, message, options).echoes).toBe(1);
  });

  test('when only other fields changed, then the event is ignored even though it carries the enriched email, but the record counts as caught up to its commit', () => {
    const message = cdcUpdateMessage({
      changedFields: ['Phone', 'LastModifiedDate'],
      fields: { Phone: '555' },
      dropFields: ['HasOptedOutOfEmail'],
    });
    expect(normaliseMessage(cdcChannel.channel, message, options)).toEqual({
      changes: [],
      gaps: [],
      echoes: 0,
      ignored: 1,
      touched: [{ recordId: '003RM000004UF9sYAG', at: new Date('2020-12-15T23:09:18.000Z') }],
    });
  });

  test('when the settings name a custom opt-out field, then that field decides and HasOptedOutOfEmail does not', () => {
    const message = cdcUpdateMessage({ changedFields: ['Email_Opt_Out__c'], fields: { Email_Opt_Out__c: true } });
    const custom = normaliseMessage(cdcChannel.channel, message, { ...options, optOutField: 'Email_Opt_Out__c' });
    expect(custom.changes).toHaveLength(1);
    expect(normaliseMessage(cdcChannel.channel, message, options).ignored).toBe(1);
  });

  test('when a Contact or Lead is created or undeleted opted out, then it counts; created opted in, it is ignored', () => {
    expect(
      normaliseMessage(cdcChannel.channel, cdcCreateMessage('Contact', { HasOptedOutOfEmail: true }), options).changes,
    ).toMatchObject([{ objectName: 'Contact', optedOut: true, email: 'ada@example.com', replayId: '6421' }]);
    expect(
      normaliseMessage(cdcChannel.channel, cdcCreateMessage('Lead', { HasOptedOutOfEmail: true }, 'UNDELETE'), options)
        .changes,
    ).toHaveLength(1);
    expect(
      normaliseMessage(cdcChannel.channel, cdcCreateMessage('Lead', { HasOptedOutOfEmail: false }), options).ignored,
    ).toBe(1);
  });

  test('when a record is deleted, then nothing changes', () => {
    expect(normaliseMessage(cdcChannel.channel, cdcDeleteMessage(), options)).toEqual({
      changes: [],
      gaps: [],
      echoes: 0,
      ignored: 1,
      touched: [],
    });
  });

  test('when gap events arrive, then their records are listed for re-query; an overflow asks to reconcile the object', () => {
    const gap = cdcUpdateMessage({
      changeType: 'GAP_UPDATE',
      changedFields: [],
      recordIds: ['003000000000001AAA', '003000000000002AAA'],
      dropFields: ['HasOptedOutOfEmail', 'Email'],
    });
    expect(normaliseMessage(cdcChannel.channel, gap, options).gaps).toEqual([
      { objectName: 'Contact', recordIds: ['003000000000001AAA', '003000000000002AAA'], overflow: false },
    ]);
    const overflow = cdcUpdateMessage({
      entityName: 'Lead',
      changeType: 'GAP_OVERFLOW',
      changedFields: [],
      recordIds: ['000000000000000AAA'],
    });
    expect(normaliseMessage(cdcChannel.channel, overflow, options).gaps).toEqual([
      { objectName: 'Lead', recordIds: [], overflow: true },
    ]);
  });

  test('when changedFields names the opt-out field but the body lacks it, then the record is re-queried instead of guessed', () => {
    const message = cdcUpdateMessage({ dropFields: ['HasOptedOutOfEmail'] });
    expect(normaliseMessage(cdcChannel.channel, message, options)).toMatchObject({
      changes: [],
      gaps: [{ objectName: 'Contact', overflow: false }],
    });
  });

  test('when a person account raises an Account event, then only the Contact event counts', () => {
    const account = cdcUpdateMessage({
      entityName: 'Account',
      changedFields: ['PersonHasOptedOutOfEmail'],
      fields: { PersonHasOptedOutOfEmail: true },
    });
    expect(normaliseMessage(cdcChannel.channel, account, options)).toEqual({
      changes: [],
      gaps: [],
      echoes: 0,
      ignored: 1,
      touched: [],
    });
  });

  test('when the documented Account examples arrive unchanged, then they are ignored, not rejected', () => {
    const create = readFixtureJson('salesforce/cdc-cometd-account-create__message-durability-v67.json');
    expect(normaliseMessage('/data/ChangeEvents', create, options).ignored).toBe(1);
    const other = readFixtureJson('salesforce/cdc-cometd-serviceappointment-update__WorkPuma-vivaeve-s15Payload.json');
    expect(normaliseMessage('/data/ServiceAppointmentChangeEvent', other, options).ignored).toBe(1);
  });

  test('when the message is malformed, then MessageRejectedError names the field path', () => {
    const noIds = cdcUpdateMessage({});
    delete ((noIds.data.payload as Record<string, unknown>).ChangeEventHeader as Record<string, unknown>).recordIds;
    expect(rejection(() => normaliseMessage(cdcChannel.channel, noIds, options)).path).toBe(
      'data.payload.ChangeEventHeader.recordIds',
    );

    const noReplay = cdcUpdateMessage({});
    delete (noReplay.data.event as Record<string, unknown>).replayId;
    expect(rejection(() => normaliseMessage(cdcChannel.channel, noReplay, options)).path).toBe('data.event.replayId');

    const badValue = cdcUpdateMessage({ fields: { HasOptedOutOfEmail: 'yes' } });
    const error = rejection(() => normaliseMessage(cdcChannel.channel, badValue, options));
    expect(error.path).toBe('data.payload.HasOptedOutOfEmail');
    expect(error.message).toContain('data.payload.HasOptedOutOfEmail');

    expect(rejection(() => normaliseMessage(cdcChannel.channel, 'not json', options)).path).toBe('');
  });
});

describe('normaliseMessage for the relay Platform Event', () => {
  test('when the relay publishes an opt-out, then it becomes a change with the event source', () => {
    const result = normaliseMessage(
      optOutEvent.channel,
      relayEventMessage({ [optOutEvent.fields.source]: 'FLOW' }),
      options,
    );
    expect(result.changes).toEqual([
      {
        recordId: '00Q000000000002AAA',
        objectName: 'Lead',
        email: 'grace@example.com',
        optedOut: true,
        changedAt: new Date('2023-04-09T18:31:40.000Z'),
        changedBy: '005D0000001cSZsAAA',
        changeOrigin: 'com/salesforce/api/rest/62.0;client=SfdcInternalAPI/',
        source: 'FLOW',
        transactionKey: null,
        replayId: '2112',
        channel: optOutEvent.channel,
      },
    ]);
  });

  test('when the relayed change was written by this product, then it is an echo', () => {
    const byClient = relayEventMessage({
      [optOutEvent.fields.changeOrigin]: 'com/salesforce/api/rest/62.0;client=OptOutSync',
    });
    expect(normaliseMessage(optOutEvent.channel, byClient, options).echoes).toBe(1);
    const byUser = relayEventMessage({ [optOutEvent.fields.changedBy]: '005000000000INT' });
    expect(normaliseMessage(optOutEvent.channel, byUser, options).echoes).toBe(1);
  });

  test('when a relay field is malformed, then the rejection names it', () => {
    const message = relayEventMessage({ [optOutEvent.fields.optedOut]: 'true' });
    expect(rejection(() => normaliseMessage(optOutEvent.channel, message, options)).path).toBe(
      'data.payload.Opted_Out__c',
    );
    const wrongObject = relayEventMessage({ [optOutEvent.fields.objectName]: 'Account' });
    expect(rejection(() => normaliseMessage(optOutEvent.channel, wrongObject, options)).path).toBe(
      'data.payload.Object_Name__c',
    );
  });
});

describe('echo helpers', () => {
  test('when changeOrigin carries a client id, then it is extracted whatever follows it', () => {
    expect(originClientId('com/salesforce/api/soap/49.0;client=Astro')).toBe('Astro');
    expect(originClientId('com/salesforce/api/soap/51.0;client=SfdcInternalAPI/')).toBe('SfdcInternalAPI');
    expect(originClientId('')).toBeNull();
    expect(sameSalesforceId('005000000000INT', '005000000000INTAAA')).toBe(true);
    expect(sameSalesforceId('005000000000int', '005000000000INTAAA')).toBe(false);
  });
});
