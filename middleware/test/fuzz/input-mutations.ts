// Generated and mutated inputs derived from a vendor fixture: every mutation starts from a documented message and
// breaks one thing in it (a missing or wrong-typed field, wrong nesting, huge or broken strings, ...), so that
// each input is "almost right", which is where parsers go wrong.
import fs from 'node:fs';
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonPath = (string | number)[];

/** Every path inside a JSON value, the root included (as []). */
export function pathsOf(value: Json, prefix: JsonPath = []): JsonPath[] {
  const here = [prefix];
  if (Array.isArray(value)) return [...here, ...value.flatMap((v, i) => pathsOf(v, [...prefix, i]))];
  if (value !== null && typeof value === 'object') return [...here, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...prefix, k]))];
  return here;
}

function getAt(value: Json, path: JsonPath): Json | undefined {
  let current: Json | undefined = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = Array.isArray(current) ? current[key as number] : current[key as string];
  }
  return current;
}

/** A copy of `value` with the node at `path` replaced (or removed when `replacement` is undefined). */
export function withAt(value: Json, path: JsonPath, replacement: Json | undefined): Json | undefined {
  if (path.length === 0) return replacement;
  const copy = structuredClone(value);
  const parent = getAt(copy, path.slice(0, -1));
  const key = path[path.length - 1]!;
  if (parent === null || typeof parent !== 'object' || parent === undefined) return copy;
  if (Array.isArray(parent)) {
    if (replacement === undefined) parent.splice(key as number, 1);
    else parent[key as number] = replacement;
  } else if (replacement === undefined) delete parent[key as string];
  else parent[key as string] = replacement;
  return copy;
}

/** Lone surrogates: what a non-UTF-8 byte sequence becomes once a lenient decoder has turned it into a JS string. */
export const brokenUnicode = ['\ud800', 'abc\udfff', '\ufffd\ufffd', 'nul\u0000byte', '\u0000', 'caf\u00e9\ud83d'];
export const badEmails = ['', ' ', 'not-an-email', '@example.com', 'a@', 'a@@b.com', 'a b@example.com', 'x'.repeat(300) + '@example.com', 'ünïcödé@exämple.com', 'a@b', '<script>@x.com', 'nul\u0000@example.com'];

export const hugeString = (size: number): string => 'A'.repeat(size);

/** A replacement value of the wrong kind for wherever it lands. */
export const wrongValueArb: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-1, 0, Number.MAX_SAFE_INTEGER, 1e308),
  fc.string({ maxLength: 20 }),
  fc.constantFrom(...brokenUnicode),
  fc.constantFrom(...badEmails),
  fc.constant(hugeString(200_000)),
  fc.constant([] as Json[]),
  fc.constant({} as Json),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

export type Mutation =
  | { kind: 'drop'; path: JsonPath }
  | { kind: 'replace'; path: JsonPath; value: Json }
  | { kind: 'nest-in-array'; path: JsonPath }
  | { kind: 'nest-in-object'; path: JsonPath }
  | { kind: 'add-unknown-field'; path: JsonPath; value: Json };

export function applyMutation(seed: Json, mutation: Mutation): Json | undefined {
  const current = getAt(seed, mutation.path);
  switch (mutation.kind) {
    case 'drop':
      return withAt(seed, mutation.path, undefined);
    case 'replace':
      return withAt(seed, mutation.path, mutation.value);
    case 'nest-in-array':
      return withAt(seed, mutation.path, [current ?? null]);
    case 'nest-in-object':
      return withAt(seed, mutation.path, { value: current ?? null });
    case 'add-unknown-field':
      return current !== null && typeof current === 'object' && !Array.isArray(current) ? withAt(seed, mutation.path, { ...current, zz_unknown__c: mutation.value }) : withAt(seed, mutation.path, mutation.value);
  }
}

/** Mutations of one seed: a path chosen among the seed's own paths, and a way to break it. */
export function mutationArb(seed: Json, extra: { paths?: JsonPath[]; values?: Json[] } = {}): fc.Arbitrary<Mutation> {
  const paths = [...pathsOf(seed), ...(extra.paths ?? [])];
  const path = fc.constantFrom(...paths);
  const value = extra.values !== undefined && extra.values.length > 0 ? fc.oneof(wrongValueArb, fc.constantFrom(...extra.values)) : wrongValueArb;
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('drop' as const), path }) },
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('replace' as const), path, value }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('nest-in-array' as const), path }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('nest-in-object' as const), path }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('add-unknown-field' as const), path, value }) },
  );
}

export function describeMutation(m: Mutation): string {
  const at = m.path.join('.') || '<root>';
  return 'value' in m ? `${m.kind} ${at} = ${JSON.stringify(m.value)?.slice(0, 60)}` : `${m.kind} ${at}`;
}

/** Draws `count` values of an arbitrary with a fixed seed (replayable: FUZZ_SEED overrides it). */
export function sampleInputs<T>(arb: fc.Arbitrary<T>, count: number, seed: number): T[] {
  const fromEnv = process.env.FUZZ_SEED;
  return fc.sample(arb, { numRuns: count, seed: fromEnv === undefined ? seed : Number(fromEnv) });
}

/** The fuzz budget: each file runs its share, and the shares add up to the 10,000 inputs. */
export const fuzzShares = { cometdChangeEvents: 2400, platformEvents: 1400, webhooks: 3000, responseParsers: 3700 } as const;
export const fuzzTotal = Object.values(fuzzShares).reduce((a, b) => a + b, 0);

/**
 * `npm run chaos` runs these files as its fuzz phase and reports how many inputs they fed: with FUZZ_REPORT_FILE
 * set, each test appends one line saying what it fed (a plain run of the tests writes nothing).
 */
export function reportFuzzInputs(target: string, fed: number): void {
  const file = process.env.FUZZ_REPORT_FILE;
  if (file !== undefined && file !== '') fs.appendFileSync(file, `${JSON.stringify({ target, fed })}\n`);
}
