// The schemas must accept the vendor's OWN documented examples (fixtures/activecampaign/opt-out-subset.openapi.json)
// and normalise AC's loose types (string ids and counters, string-or-number status, "0000-00-00" dates).
import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import {
  bulkImportResponseSchema,
  contactListsResponseSchema,
  getContactResponseSchema,
  importInfoResponseSchema,
  listContactsResponseSchema,
  listListsResponseSchema,
  listTagsResponseSchema,
  updateContactListResponseSchema,
  webhookResponseSchema,
} from '../../src/activecampaign/activecampaign-schemas';
import { readFixtureJson } from '../support/fixtures';

const openApiSchema = z.object({
  paths: z.record(
    z.string(),
    z.record(
      z.string(),
      z.looseObject({
        responses: z.record(
          z.string(),
          z.looseObject({
            content: z
              .record(
                z.string(),
                z.looseObject({
                  examples: z.record(z.string(), z.object({ value: z.string() })).optional(),
                }),
              )
              .optional(),
          }),
        ),
      }),
    ),
  ),
});

const spec = openApiSchema.parse(readFixtureJson('activecampaign/opt-out-subset.openapi.json'));

function documentedExample(path: string, method: string, status: string): unknown {
  const content = spec.paths[path]?.[method]?.responses[status]?.content ?? {};
  for (const media of Object.values(content)) {
    const example = Object.values(media.examples ?? {})[0];
    if (example !== undefined) return JSON.parse(example.value) as unknown;
  }
  throw new Error(`no documented example for ${method} ${path} ${status}`);
}

describe('ActiveCampaign schemas against the documented examples', () => {
  it('when AC documents GET /contacts, then ids stay strings and bounce counters become numbers', () => {
    const page = listContactsResponseSchema.parse(documentedExample('/contacts', 'get', '200'));
    const first = page.contacts[0];
    expect(first).toBeDefined();
    expect(typeof first?.id).toBe('string');
    expect(first?.bouncedHard).toBe(0);
    // "0000-00-00" means "never bounced".
    expect(first?.bouncedDate).toBeNull();
    expect(typeof page.meta?.total).toBe('number');
  });

  it('when AC documents GET /contacts/{id}, then its sideloaded contactLists parse with status as a number', () => {
    const answer = getContactResponseSchema.parse(documentedExample('/contacts/{id}', 'get', '200'));
    expect(answer.contactLists?.[0]).toMatchObject({
      contactId: '1',
      listId: '1',
      status: 1,
      sdate: null,
    });
  });

  it('when AC documents GET /contacts/{id}/contactLists, then a bounced membership reads status 3', () => {
    const answer = contactListsResponseSchema.parse(documentedExample('/contacts/{id}/contactLists', 'get', '200'));
    expect(answer.contactLists[0]).toMatchObject({
      listId: '1',
      status: 3,
      udate: '2021-05-12T11:10:06-05:00',
    });
  });

  it('when AC documents POST /contactLists (status as a number), then it parses to the same type as GET', () => {
    const answer = updateContactListResponseSchema.parse(documentedExample('/contactLists', 'post', '200'));
    expect(answer.contactList).toMatchObject({
      contactId: '1',
      listId: '2',
      status: 1,
    });
  });

  it('when AC documents lists, tags, webhooks and bulk import answers, then each parses', () => {
    expect(listListsResponseSchema.parse(documentedExample('/lists', 'get', '200')).lists.length).toBeGreaterThan(0);
    expect(listTagsResponseSchema.parse(documentedExample('/tags', 'get', '200')).tags[0]).toMatchObject({
      id: '1',
      name: 'one',
    });
    expect(webhookResponseSchema.parse(documentedExample('/webhooks', 'post', '201')).webhook).toMatchObject({
      id: '1',
      listId: '0',
      events: ['subscribe', 'unsubscribe', 'sent'],
    });
    expect(bulkImportResponseSchema.parse(documentedExample('/import/bulk_import', 'post', '200')).batchId).toBe(
      '0641fbdd-f62f-4c2c-ba02-3a83d5d11ac9',
    );
    expect(importInfoResponseSchema.parse(documentedExample('/import/info', 'get', '200'))).toEqual({
      status: 'completed',
      done: true,
      successContactIds: ['123', '124', '125', '126'],
      failureEmails: ['invalid.email@invalidDomain', "invalid'character@example.com"],
    });
  });

  it('when a status arrives as "2" or 2, then both read as the number 2; a non-numeric id is refused', () => {
    const base = { contact: '5', list: '7', sdate: null, udate: null };
    expect(
      updateContactListResponseSchema.parse({
        contactList: { ...base, status: 2 },
      }).contactList.status,
    ).toBe(2);
    expect(
      contactListsResponseSchema.parse({
        contactLists: [{ ...base, status: '2' }],
      }).contactLists[0]?.status,
    ).toBe(2);
    expect(
      contactListsResponseSchema.safeParse({
        contactLists: [{ ...base, contact: 'x', status: '2' }],
      }).success,
    ).toBe(false);
  });
});
