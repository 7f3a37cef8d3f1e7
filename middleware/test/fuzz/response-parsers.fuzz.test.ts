// Fuzzing the response parsers: ActiveCampaign's documented answers (fixtures/activecampaign/opt-out-subset.openapi.json)
// broken one way each and read by the product's zod schemas; the AC emulator's garbage fault mode read by the real
// client over HTTP; Salesforce REST answers broken the same way and read by SalesforceRestClient. Expected: a
// parsed value or a typed error that names the field, never a crash of another kind.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { z } from 'zod';
import { readFixtureJson } from '../support/fixtures';
import * as schemas from '../../src/activecampaign/activecampaign-schemas';
import { ActiveCampaignClient } from '../../src/activecampaign/activecampaign-client';
import { AcError } from '../../src/activecampaign/activecampaign-errors';
import { startActiveCampaignEmulator, type ActiveCampaignEmulator } from '../../src/sandbox/activecampaign';
import { SalesforceRestClient } from '../../src/salesforce/salesforce-rest';
import type { SalesforceSession } from '../../src/salesforce/salesforce-auth';
import { SalesforceApiError, SalesforceSessionExpiredError, SalesforceResponseShapeError } from '../../src/salesforce/salesforce-errors';
import { applyMutation, describeMutation, fuzzShares, mutationArb, reportFuzzInputs, sampleInputs, type Json } from './input-mutations';

/** Which schema reads which documented answer. */
const readers: { path: string; method: string; status: string; schema: z.ZodType }[] = [
  { path: '/contacts', method: 'get', status: '200', schema: schemas.listContactsResponseSchema },
  { path: '/contacts/{id}', method: 'get', status: '200', schema: schemas.getContactResponseSchema },
  { path: '/contacts/{id}/contactLists', method: 'get', status: '200', schema: schemas.contactListsResponseSchema },
  { path: '/contactLists', method: 'post', status: '200', schema: schemas.updateContactListResponseSchema },
  { path: '/lists', method: 'get', status: '200', schema: schemas.listListsResponseSchema },
  { path: '/tags', method: 'get', status: '200', schema: schemas.listTagsResponseSchema },
  { path: '/webhooks', method: 'post', status: '201', schema: schemas.webhookResponseSchema },
  { path: '/import/bulk_import', method: 'post', status: '200', schema: schemas.bulkImportResponseSchema },
  { path: '/import/info', method: 'get', status: '200', schema: schemas.importInfoResponseSchema },
];

const openApi = z.object({
  paths: z.record(z.string(), z.record(z.string(), z.looseObject({ responses: z.record(z.string(), z.looseObject({ content: z.record(z.string(), z.looseObject({ examples: z.record(z.string(), z.object({ value: z.string() })).optional() })).optional() })) }))),
});

function documentedExamples(): { reader: (typeof readers)[number]; example: Json }[] {
  const spec = openApi.parse(readFixtureJson('activecampaign/opt-out-subset.openapi.json'));
  return readers.flatMap((reader) =>
    Object.values(spec.paths[reader.path]?.[reader.method]?.responses[reader.status]?.content ?? {}).flatMap((media) => Object.values(media.examples ?? {}).map((e) => ({ reader, example: JSON.parse(e.value) as Json }))),
  );
}

/** A Salesforce session that never talks to a server: the fuzzed fetch answers instead. */
function fakeSession(): SalesforceSession {
  const session = { apiVersion: '62.0', productClientId: 'optout-sync', withToken: <T>(call: (token: { accessToken: string; instanceUrl: string }) => Promise<T>) => call({ accessToken: 'token', instanceUrl: 'http://127.0.0.1:9' }) };
  return session as unknown as SalesforceSession;
}

const sfSeeds: { kind: 'query' | 'update'; body: Json }[] = [
  { kind: 'query', body: { totalSize: 2, done: true, records: [{ attributes: { type: 'Contact', url: '/services/data/v62.0/sobjects/Contact/003000000000001AAA' }, Id: '003000000000001AAA', Email: 'ada@example.com', HasOptedOutOfEmail: true }, { Id: '003000000000002AAA', Email: 'grace@example.com', HasOptedOutOfEmail: false }] } },
  { kind: 'update', body: [{ id: '003000000000001AAA', success: true, errors: [] }, { id: null, success: false, errors: [{ statusCode: 'UNABLE_TO_LOCK_ROW', message: 'unable to obtain exclusive access', fields: [] }] }] },
];

const recordSchema = z.object({ Id: z.string(), Email: z.string().nullable(), HasOptedOutOfEmail: z.boolean() });

describe('fuzzing the response parsers', () => {
  let ac: ActiveCampaignEmulator;
  beforeAll(async () => {
    ac = await startActiveCampaignEmulator({});
  });
  afterAll(async () => {
    await ac.close();
  });

  const acShare = fuzzShares.responseParsers - 1500 - 60;

  test(`when ${acShare} broken ActiveCampaign answers are parsed, then each parses or fails with issues naming the field`, () => {
    const examples = documentedExamples();
    expect(new Set(examples.map((e) => e.reader.path)).size).toBe(readers.length);
    const inputs = sampleInputs(fc.nat(examples.length - 1).chain((i) => mutationArb(examples[i]!.example).map((mutation) => ({ i, mutation }))), acShare, 8_2029);
    const problems: string[] = [];
    let refused = 0;
    for (const { i, mutation } of inputs) {
      const { reader, example } = examples[i]!;
      let result;
      try {
        result = reader.schema.safeParse(applyMutation(example, mutation));
      } catch (error) {
        problems.push(`${reader.path}: ${describeMutation(mutation)} threw ${String(error)}`);
        continue;
      }
      if (result.success) continue;
      refused++;
      const mutated = mutation.path.join('.');
      const named = result.error.issues.some((issue) => {
        const at = issue.path.join('.');
        return at === '' || mutated === '' || mutated === at || mutated.startsWith(`${at}.`) || at.startsWith(`${mutated}.`);
      });
      if (!named) problems.push(`${reader.path}: ${describeMutation(mutation)} -> ${result.error.issues.map((x) => x.path.join('.')).join(', ')}`);
    }
    reportFuzzInputs('activecampaign response parsers', inputs.length);
    expect(problems.slice(0, 20)).toEqual([]);
    expect(refused).toBeGreaterThan(acShare / 4);
  });

  test('when the ActiveCampaign emulator answers garbage, then the client rejects every call with a typed ActiveCampaign error', async () => {
    const client = new ActiveCampaignClient({ apiUrl: ac.url, apiToken: ac.apiToken, rateLimiter: { acquire: async () => undefined }, timeoutMs: 2000 });
    ac.setFault({ garbage: true, count: 60 });
    const errors: unknown[] = [];
    for (let n = 0; n < 60; n++) {
      const call = n % 3 === 0 ? client.findContactWithListsByEmail('ada@example.com') : n % 3 === 1 ? client.getContactWithLists('1') : client.listLists();
      errors.push(await call.then(() => null, (error: unknown) => error));
    }
    reportFuzzInputs('activecampaign emulator garbage', errors.length);
    // '' and 'null' are garbage too: no call may come back with a value.
    expect(errors.filter((e) => !(e instanceof AcError)).map(String)).toEqual([]);
  });

  test('when 1500 broken Salesforce REST answers arrive, then each is parsed or rejected with a typed Salesforce error', async () => {
    const inputs = sampleInputs(fc.nat(sfSeeds.length - 1).chain((i) => mutationArb(sfSeeds[i]!.body).map((mutation) => ({ i, mutation }))), 1500, 8_2030);
    const untyped: string[] = [];
    for (const { i, mutation } of inputs) {
      const seed = sfSeeds[i]!;
      const body = applyMutation(seed.body, mutation);
      const rest = new SalesforceRestClient(fakeSession(), { fetchImpl: async () => new Response(body === undefined ? '' : JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } }) });
      const call = seed.kind === 'query' ? rest.query('SELECT Id FROM Contact', recordSchema) : rest.updateRecords('Contact', [{ Id: '003000000000001AAA' }, { Id: '003000000000002AAA' }]);
      const error = await call.then(() => null, (e: unknown) => e);
      if (error !== null && !(error instanceof SalesforceApiError) && !(error instanceof SalesforceSessionExpiredError) && !(error instanceof SalesforceResponseShapeError)) {
        untyped.push(`${seed.kind} ${describeMutation(mutation)}: ${error instanceof Error ? error.name : typeof error}: ${String(error).slice(0, 100)}`);
      }
    }
    reportFuzzInputs('salesforce response parsers', inputs.length);
    expect(untyped.slice(0, 10)).toEqual([]);
  });
});
