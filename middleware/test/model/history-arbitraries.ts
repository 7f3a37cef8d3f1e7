// fast-check generators of starting worlds and histories for the reference model: a few people, each with one to
// three Salesforce records (Contacts and Leads sharing an email, typed in different case), some known to
// ActiveCampaign on a few lists, and up to 30 timed actions by people on either side.
import fc from 'fast-check';
import type { ListStatus, ModelAcContact, ModelAction, ModelRecord, ModelWorld } from './reference-model';

/** AC stamps whole seconds (sdate, udate): histories use the precision the product is given. */
export const historyStart = Date.UTC(2026, 0, 5, 9, 0, 0);
const second = 1000;
const listIds = ['1', '2', '3'] as const;

interface PersonSpec {
  casings: number[];
  objects: ('Contact' | 'Lead')[];
  optedOut: boolean[];
  changedAgo: (number | null)[];
  ac: { lists: Record<string, ListStatus>; hardBounced: boolean } | null;
}

/** Same address, different case, as people type it into different records. */
function caseVariant(email: string, variant: number): string {
  switch (variant % 4) {
    case 0:
      return email;
    case 1:
      return email.toUpperCase();
    case 2:
      return email.charAt(0).toUpperCase() + email.slice(1);
    default:
      return email.replace('example.com', 'Example.COM');
  }
}

/** List memberships before any bounce: active more often than not, some pending confirmation or unsubscribed. */
const listsArb: fc.Arbitrary<ModelAcContact['lists']> = fc.dictionary(fc.constantFrom(...listIds), fc.constantFrom<ListStatus>(0, 1, 1, 2), { minKeys: 0, maxKeys: 3 });

const personArb: fc.Arbitrary<PersonSpec> = fc.integer({ min: 1, max: 3 }).chain((n) =>
  fc.record({
    casings: fc.array(fc.nat(3), { minLength: n, maxLength: n }),
    objects: fc.array(fc.constantFrom<'Contact' | 'Lead'>('Contact', 'Lead'), { minLength: n, maxLength: n }),
    optedOut: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    changedAgo: fc.array(fc.option(fc.integer({ min: 1, max: 86_400 }), { nil: null }), { minLength: n, maxLength: n }),
    ac: fc.option(
      fc.record({
        lists: listsArb,
        // A contact that bounced before the product was installed: its active lists read 3.
        hardBounced: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
      }),
      { nil: null, freq: 5 },
    ),
  }),
);

function buildWorld(people: PersonSpec[]): ModelWorld {
  const records: ModelRecord[] = [];
  const ac: ModelWorld['ac'] = {};
  people.forEach((person, p) => {
    const email = `person${p}@example.com`;
    person.casings.forEach((casing, r) => {
      const objectName = person.objects[r] ?? 'Contact';
      const ago = person.changedAgo[r] ?? null;
      records.push({
        id: `${objectName === 'Contact' ? '003' : '00Q'}${String(p).padStart(3, '0')}${String(r).padStart(3, '0')}`,
        objectName,
        email: caseVariant(email, casing),
        optedOut: person.optedOut[r] ?? false,
        hardBounced: false,
        optOutChangedAt: ago === null ? null : historyStart - ago * second,
      });
    });
    if (person.ac !== null) {
      const lists: Record<string, ListStatus> = {};
      for (const [list, status] of Object.entries(person.ac.lists)) lists[list] = person.ac.hardBounced && (status === 0 || status === 1) ? 3 : status;
      ac[email] = { lists, hardBounced: person.ac.hardBounced };
    }
  });
  return { records, ac };
}

export const worldArb: fc.Arbitrary<ModelWorld> = fc.array(personArb, { minLength: 1, maxLength: 3 }).map(buildWorld);

type ActionWithoutTime = ModelAction extends infer A ? (A extends ModelAction ? Omit<A, 'at'> : never) : never;

/** One action on `world`, chosen among its records and emails (emails typed in any case, as people do). */
export function actionArb(world: ModelWorld, { salesforce = true, activeCampaign = true } = {}): fc.Arbitrary<ActionWithoutTime> {
  const emails = [...new Set(world.records.map((r) => r.email))];
  const choices: fc.WeightedArbitrary<ActionWithoutTime>[] = [];
  if (salesforce) {
    choices.push({ weight: 4, arbitrary: fc.record({ kind: fc.constant('sf-set-opt-out' as const), recordId: fc.constantFrom(...world.records.map((r) => r.id)), optedOut: fc.boolean() }) });
  }
  if (activeCampaign) {
    const email = fc.constantFrom(...emails);
    choices.push(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('ac-unsubscribe' as const), email, list: fc.constantFrom<string>(...listIds, 'all', 'all') }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('ac-subscribe' as const), email, list: fc.constantFrom<string>(...listIds, '4') }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('ac-hard-bounce' as const), email }) },
    );
  }
  return fc.oneof(...choices);
}

/** Up to `maxLength` actions at distinct whole seconds, in time order. */
export function historyArb(world: ModelWorld, options: { maxLength?: number; salesforce?: boolean; activeCampaign?: boolean } = {}): fc.Arbitrary<ModelAction[]> {
  const maxLength = options.maxLength ?? 30;
  return fc
    .tuple(fc.array(actionArb(world, options), { minLength: 1, maxLength }), fc.uniqueArray(fc.integer({ min: 0, max: 3600 }), { minLength: maxLength, maxLength }))
    .map(([actions, offsets]) => {
      const times = [...offsets].sort((a, b) => a - b);
      return actions.map((a, i) => ({ ...a, at: historyStart + (times[i] ?? i) * second }) as ModelAction);
    });
}

export const worldAndHistoryArb = (options: { maxLength?: number; salesforce?: boolean; activeCampaign?: boolean } = {}): fc.Arbitrary<{ world: ModelWorld; history: ModelAction[] }> =>
  worldArb.chain((world) => historyArb(world, options).map((history) => ({ world, history })));
