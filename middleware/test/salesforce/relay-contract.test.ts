// One contract, checked from both sides: the package's static resource OptOutRelayContract.json lists change
// events, the OptOut_Change__e events the Apex relay publishes for each (OptOutRelayContractTest asserts that in an
// org), and what the middleware makes of those events. Here the same published events go through the normaliser,
// so that a field the Apex may leave empty is one the middleware accepts.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { normaliseMessage, type NormaliseOptions } from '../../src/salesforce/change-normaliser';
import { cdcChannel, optOutEvent, syncedObjects } from '../../src/salesforce/package-names';
import { cdcUpdateMessage, relayEventMessage } from './cdc-fixture-variants';

const contractFile = path.resolve(
  __dirname,
  '..',
  '..',
  '..',
  'force-app',
  'main',
  'default',
  'staticresources',
  'OptOutRelayContract.json',
);

const f = optOutEvent.fields;
const publishedSchema = z.object({
  [f.recordId]: z.string().nullable(),
  [f.objectName]: z.enum(syncedObjects),
  [f.optedOut]: z.boolean(),
  [f.email]: z.string().nullable(),
  [f.source]: z.enum(optOutEvent.sources),
});
const contractSchema = z.object({
  commitTimestamp: z.number().int(),
  records: z.record(z.string(), z.object({ object: z.enum(syncedObjects), deleted: z.boolean() }).passthrough()),
  cases: z.array(
    z.object({
      name: z.string(),
      changeEvent: z.object({
        entityName: z.enum(syncedObjects),
        changeType: z.string(),
        recordIds: z.array(z.string()),
        changedFields: z.array(z.string()),
        fields: z.record(z.string(), z.unknown()),
      }),
      published: z.array(publishedSchema),
      middleware: z.object({
        changes: z.array(
          z.object({
            recordId: z.string(),
            objectName: z.enum(syncedObjects),
            optedOut: z.boolean(),
            email: z.string().nullable(),
            source: z.string(),
          }),
        ),
        gaps: z.array(z.object({ objectName: z.enum(syncedObjects), recordIds: z.array(z.string()), overflow: z.boolean() })),
      }),
    }),
  ),
});

const contract = contractSchema.parse(JSON.parse(fs.readFileSync(contractFile, 'utf8')));

// Each side gives the aliases its own ids; here, made-up ids with the objects' key prefixes.
const ids = new Map(
  Object.entries(contract.records).map(([alias, record], index) => [
    `{${alias}}`,
    `${record.object === 'Contact' ? '003' : '00Q'}${String(index + 1).padStart(12, '0')}`,
  ]),
);
const resolve = (value: string): string => ids.get(value) ?? value;

const options: NormaliseOptions = { productClientId: 'optout-sync', integrationUserId: '005000000000INTAAA' };
const commitUser = '005000000000ADMAAA';

describe('relay contract (force-app/main/default/staticresources/OptOutRelayContract.json)', () => {
  test('when the contract is read, then it covers reconcile-all, wildcards, email changes and deletes', () => {
    const types = contract.cases.map((c) => c.changeEvent.changeType);
    expect(types).toEqual(expect.arrayContaining(['UPDATE', 'CREATE', 'UNDELETE', 'DELETE', 'GAP_UPDATE', 'GAP_OVERFLOW']));
    expect(contract.cases.some((c) => c.changeEvent.recordIds.includes('003*'))).toBe(true);
    expect(contract.cases.some((c) => c.published.some((e) => e[f.recordId] === null))).toBe(true);
    expect(contract.cases.some((c) => c.changeEvent.changedFields.includes('Email'))).toBe(true);
  });

  test('when the Apex tests are read, then they load the same static resource', () => {
    const apexTest = path.resolve(contractFile, '..', '..', 'classes', 'OptOutRelayContractTest.cls');
    expect(fs.readFileSync(apexTest, 'utf8')).toContain("Name = 'OptOutRelayContract'");
  });

  describe.each(contract.cases.map((c) => [c.name, c] as const))('%s', (_name, contractCase) => {
    test('when the change event reaches the CDC channel, then the normaliser accepts its shape', () => {
      const { changeEvent } = contractCase;
      const message = cdcUpdateMessage({
        entityName: changeEvent.entityName,
        recordIds: changeEvent.recordIds.map(resolve),
        changedFields: changeEvent.changedFields,
        changeType: changeEvent.changeType,
        commitUser,
        dropFields: ['HasOptedOutOfEmail', 'Email'],
      });
      Object.assign((message.data as { payload: Record<string, unknown> }).payload, changeEvent.fields);
      expect(() => normaliseMessage(cdcChannel.channel, message, options)).not.toThrow();
    });

    test('when the published events reach the middleware, then it queues what the contract says', () => {
      const changes = [];
      const gaps = [];
      for (const [index, published] of contractCase.published.entries()) {
        const recordId = published[f.recordId];
        const message = relayEventMessage({
          [f.recordId]: recordId === null ? null : resolve(recordId),
          [f.objectName]: published[f.objectName],
          [f.optedOut]: published[f.optedOut],
          [f.email]: published[f.email],
          [f.source]: published[f.source],
          [f.changedBy]: commitUser,
          [f.changedAt]: new Date(contract.commitTimestamp).toISOString(),
        });
        const result = normaliseMessage(optOutEvent.channel, message, { ...options });
        expect({ index, echoes: result.echoes }).toEqual({ index, echoes: 0 });
        changes.push(
          ...result.changes.map((c) => ({
            recordId: c.recordId,
            objectName: c.objectName,
            optedOut: c.optedOut,
            email: c.email,
            source: c.source,
          })),
        );
        gaps.push(...result.gaps);
      }
      const expected = contractCase.middleware;
      expect({ changes, gaps }).toEqual({
        changes: expected.changes.map((c) => ({ ...c, recordId: resolve(c.recordId) })),
        gaps: expected.gaps.map((g) => ({ ...g, recordIds: g.recordIds.map(resolve) })),
      });
    });
  });
});
