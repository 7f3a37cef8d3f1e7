// The subset of SOQL the product's queries need (SOQL and SOSL Reference): SELECT fields | COUNT() FROM <type>
// [WHERE ...] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n], with =, !=, <>, <, >, <=, >=,
// LIKE, IN / NOT IN (literal lists or a semi-join sub-select), AND, OR, NOT and parentheses. Text comparisons
// are case-insensitive as in Salesforce. Anything else is refused with MALFORMED_QUERY, the way the real parser
// answers: the query, a caret under the offending token, "ERROR at Row:1:Column:n" and the reason.
import { SalesforceApiError, invalidTypeMessage } from './salesforce-errors';
import type { FieldDef, FieldValue, SObjectDef } from './sobject-schema';
import type { OrgData, RecordFields, StoredRecord } from './org-data';
import { sameId } from './salesforce-ids';

type TokenKind = 'ident' | 'string' | 'number' | 'datetime' | 'date' | 'op' | 'punct' | 'eof';
interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
}

type Literal =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' }
  | { kind: 'datetime'; ms: number; text: string };

interface FieldRef {
  name: string;
  pos: number;
}

type Condition =
  | { kind: 'and' | 'or'; left: Condition; right: Condition }
  | { kind: 'not'; inner: Condition }
  | { kind: 'compare'; field: FieldRef; op: string; value: Literal; valuePos: number }
  | { kind: 'in'; field: FieldRef; negate: boolean; values: Literal[] | Query };

interface OrderItem {
  field: FieldRef;
  descending: boolean;
  nullsLast: boolean;
}

export interface Query {
  count: boolean;
  fields: FieldRef[];
  from: { name: string; pos: number };
  where?: Condition;
  orderBy: OrderItem[];
  limit?: number;
  offset?: number;
}

const keywords = new Set([
  'select',
  'from',
  'where',
  'and',
  'or',
  'not',
  'in',
  'like',
  'order',
  'by',
  'asc',
  'desc',
  'nulls',
  'first',
  'last',
  'limit',
  'offset',
  'null',
  'true',
  'false',
]);

export class SoqlParser {
  private tokens: Token[] = [];
  private index = 0;

  constructor(private readonly soql: string) {}

  private fail(pos: number, reason: string, code = 'MALFORMED_QUERY'): SalesforceApiError {
    const column = pos + 1;
    return new SalesforceApiError(
      400,
      code,
      `\n${this.soql}\n${' '.repeat(pos)}^\nERROR at Row:1:Column:${column}\n${reason}`,
    );
  }

  failAt(pos: number, reason: string, code: string): SalesforceApiError {
    return this.fail(pos, reason, code);
  }

  private tokenize(): Token[] {
    const s = this.soql;
    const out: Token[] = [];
    let i = 0;
    while (i < s.length) {
      const ch = s.charAt(i);
      if (/\s/.test(ch)) {
        i += 1;
        continue;
      }
      const dt = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})/.exec(s.slice(i));
      if (dt) {
        out.push({ kind: 'datetime', text: dt[0], pos: i });
        i += dt[0].length;
        continue;
      }
      const date = /^\d{4}-\d{2}-\d{2}(?![\d:T])/.exec(s.slice(i));
      if (date) {
        out.push({ kind: 'date', text: date[0], pos: i });
        i += date[0].length;
        continue;
      }
      const num = /^-?\d+(\.\d+)?/.exec(s.slice(i));
      if (num) {
        out.push({ kind: 'number', text: num[0], pos: i });
        i += num[0].length;
        continue;
      }
      const ident = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(s.slice(i));
      if (ident) {
        out.push({ kind: 'ident', text: ident[0], pos: i });
        i += ident[0].length;
        continue;
      }
      if (ch === "'") {
        let j = i + 1;
        let value = '';
        while (j < s.length && s.charAt(j) !== "'") {
          if (s.charAt(j) === '\\' && j + 1 < s.length) {
            const next = s.charAt(j + 1);
            value += next === 'n' ? '\n' : next === 't' ? '\t' : next;
            j += 2;
          } else {
            value += s.charAt(j);
            j += 1;
          }
        }
        if (j >= s.length) throw this.fail(i, `line 1:${i} mismatched character '<EOF>' expecting '''`);
        out.push({ kind: 'string', text: value, pos: i });
        i = j + 1;
        continue;
      }
      const op = /^(!=|<>|<=|>=|=|<|>)/.exec(s.slice(i));
      if (op) {
        out.push({ kind: 'op', text: op[0], pos: i });
        i += op[0].length;
        continue;
      }
      if (ch === '(' || ch === ')' || ch === ',') {
        out.push({ kind: 'punct', text: ch, pos: i });
        i += 1;
        continue;
      }
      throw this.fail(i, `unexpected token: '${ch}'`);
    }
    out.push({ kind: 'eof', text: '<EOF>', pos: s.length });
    return out;
  }

  private peek(): Token {
    return this.tokens[this.index] ?? { kind: 'eof', text: '<EOF>', pos: this.soql.length };
  }

  private next(): Token {
    const t = this.peek();
    this.index += 1;
    return t;
  }

  private isKeyword(word: string): boolean {
    const t = this.peek();
    return t.kind === 'ident' && t.text.toLowerCase() === word;
  }

  private expectKeyword(word: string): Token {
    const t = this.next();
    if (t.kind !== 'ident' || t.text.toLowerCase() !== word) throw this.fail(t.pos, `unexpected token: '${t.text}'`);
    return t;
  }

  private expectPunct(p: string): void {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== p) throw this.fail(t.pos, `unexpected token: '${t.text}'`);
  }

  private fieldRef(): FieldRef {
    const t = this.next();
    if (t.kind !== 'ident' || keywords.has(t.text.toLowerCase()))
      throw this.fail(t.pos, `unexpected token: '${t.text}'`);
    return { name: t.text, pos: t.pos };
  }

  parse(): Query {
    this.tokens = this.tokenize();
    this.index = 0;
    const query = this.query();
    const rest = this.peek();
    if (rest.kind !== 'eof') throw this.fail(rest.pos, `unexpected token: '${rest.text}'`);
    return query;
  }

  private query(): Query {
    this.expectKeyword('select');
    let count = false;
    const fields: FieldRef[] = [];
    if (this.isKeyword('count') && this.tokens[this.index + 1]?.text === '(') {
      this.next();
      this.expectPunct('(');
      this.expectPunct(')');
      count = true;
    } else {
      fields.push(this.fieldRef());
      while (this.peek().text === ',') {
        this.next();
        fields.push(this.fieldRef());
      }
    }
    this.expectKeyword('from');
    const fromToken = this.next();
    if (fromToken.kind !== 'ident') throw this.fail(fromToken.pos, `unexpected token: '${fromToken.text}'`);
    const query: Query = { count, fields, from: { name: fromToken.text, pos: fromToken.pos }, orderBy: [] };
    if (this.isKeyword('where')) {
      this.next();
      query.where = this.orExpr();
    }
    if (this.isKeyword('order')) {
      this.next();
      this.expectKeyword('by');
      for (;;) {
        const field = this.fieldRef();
        let descending = false;
        if (this.isKeyword('asc')) this.next();
        else if (this.isKeyword('desc')) {
          this.next();
          descending = true;
        }
        // Salesforce sorts nulls first in ascending order unless told otherwise (SOQL Reference, ORDER BY).
        let nullsLast = descending;
        if (this.isKeyword('nulls')) {
          this.next();
          const which = this.next();
          if (which.kind !== 'ident' || !['first', 'last'].includes(which.text.toLowerCase())) {
            throw this.fail(which.pos, `unexpected token: '${which.text}'`);
          }
          nullsLast = which.text.toLowerCase() === 'last';
        }
        query.orderBy.push({ field, descending, nullsLast });
        if (this.peek().text !== ',') break;
        this.next();
      }
    }
    if (this.isKeyword('limit')) {
      this.next();
      query.limit = this.integer();
    }
    if (this.isKeyword('offset')) {
      this.next();
      query.offset = this.integer();
    }
    return query;
  }

  private integer(): number {
    const t = this.next();
    if (t.kind !== 'number' || !/^\d+$/.test(t.text)) throw this.fail(t.pos, `unexpected token: '${t.text}'`);
    return Number(t.text);
  }

  private orExpr(): Condition {
    let left = this.andExpr();
    while (this.isKeyword('or')) {
      this.next();
      left = { kind: 'or', left, right: this.andExpr() };
    }
    return left;
  }

  private andExpr(): Condition {
    let left = this.unary();
    while (this.isKeyword('and')) {
      this.next();
      left = { kind: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): Condition {
    if (this.isKeyword('not')) {
      this.next();
      return { kind: 'not', inner: this.unary() };
    }
    if (this.peek().text === '(') {
      this.next();
      const inner = this.orExpr();
      this.expectPunct(')');
      return inner;
    }
    return this.comparison();
  }

  private comparison(): Condition {
    const field = this.fieldRef();
    const t = this.peek();
    if (t.kind === 'ident' && (t.text.toLowerCase() === 'in' || t.text.toLowerCase() === 'not')) {
      this.next();
      const negate = t.text.toLowerCase() === 'not';
      if (negate) this.expectKeyword('in');
      this.expectPunct('(');
      if (this.isKeyword('select')) {
        const sub = this.query();
        this.expectPunct(')');
        return { kind: 'in', field, negate, values: sub };
      }
      const values: Literal[] = [this.literal()];
      while (this.peek().text === ',') {
        this.next();
        values.push(this.literal());
      }
      this.expectPunct(')');
      return { kind: 'in', field, negate, values };
    }
    let op: string;
    if (t.kind === 'op') op = this.next().text;
    else if (t.kind === 'ident' && t.text.toLowerCase() === 'like') {
      this.next();
      op = 'like';
    } else throw this.fail(t.pos, `unexpected token: '${t.text}'`);
    const valuePos = this.peek().pos;
    return { kind: 'compare', field, op: op === '<>' ? '!=' : op, value: this.literal(), valuePos };
  }

  private literal(): Literal {
    const t = this.next();
    switch (t.kind) {
      case 'string':
        return { kind: 'string', value: t.text };
      case 'number':
        return { kind: 'number', value: Number(t.text) };
      case 'datetime':
        return { kind: 'datetime', ms: Date.parse(t.text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')), text: t.text };
      case 'ident': {
        const lower = t.text.toLowerCase();
        if (lower === 'null') return { kind: 'null' };
        if (lower === 'true' || lower === 'false') return { kind: 'boolean', value: lower === 'true' };
        // Date literals such as TODAY or LAST_N_DAYS:n are real SOQL but not emulated.
        throw this.fail(t.pos, `unexpected token: '${t.text}'`);
      }
      default:
        throw this.fail(t.pos, `unexpected token: '${t.text}'`);
    }
  }
}

export interface QueryResultRows {
  type: SObjectDef;
  count: boolean;
  fields: FieldDef[];
  rows: RecordFields[];
}

function compareValues(f: FieldDef, a: FieldValue, b: FieldValue): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (f.type === 'datetime') return Date.parse(String(a)) - Date.parse(String(b));
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = String(a).toLowerCase();
  const y = String(b).toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function likeToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/%/g, '.*')
    .replace(/_/g, '.');
  return new RegExp(`^${escaped}$`, 'is');
}

/** Runs a parsed query against the org's data (the whole result; the REST layer pages it). */
export function executeQuery(org: OrgData, soql: string, asUserId?: string): QueryResultRows {
  const parser = new SoqlParser(soql);
  const query = parser.parse();
  return run(org, parser, query, asUserId);
}

/** `asUserId`: the API user whose object and field permissions apply (a field hidden from it is no column at all). */
function run(org: OrgData, parser: SoqlParser, query: Query, asUserId?: string): QueryResultRows {
  const def = org.describeFor(query.from.name, asUserId);
  if (!def) throw parser.failAt(query.from.pos, invalidTypeMessage(query.from.name), 'INVALID_TYPE');
  const resolve = (ref: FieldRef): FieldDef => {
    const f = org.findField(def, ref.name);
    if (!f) {
      throw parser.failAt(
        ref.pos,
        `No such column '${ref.name}' on entity '${def.name}'. If you are attempting to use a custom field, be sure to ` +
          "append the '__c' after the custom field name. Please reference your WSDL or the describe call for the " +
          'appropriate names.',
        'INVALID_FIELD',
      );
    }
    return f;
  };
  const fields = query.fields.map(resolve);
  // The WHERE clause is compiled once per query: literals are checked against their field's type (SOQL rejects a
  // mistyped literal whatever the table holds), a semi-join runs once, and an IN list becomes a set. Evaluated per
  // row, a 200-value IN over 10,000 records cost seconds and stalled the whole emulator process.
  const compile = (cond: Condition): ((record: StoredRecord) => boolean) => {
    switch (cond.kind) {
      case 'and': {
        const left = compile(cond.left);
        const right = compile(cond.right);
        return (r) => left(r) && right(r);
      }
      case 'or': {
        const left = compile(cond.left);
        const right = compile(cond.right);
        return (r) => left(r) || right(r);
      }
      case 'not': {
        const inner = compile(cond.inner);
        return (r) => !inner(r);
      }
      case 'in': {
        const f = resolve(cond.field);
        let candidates: FieldValue[];
        if (Array.isArray(cond.values)) {
          candidates = cond.values.map((v) => literalValue(parser, f, v, cond.field.pos));
        } else {
          const sub = run(org, parser, cond.values, asUserId);
          const subField = sub.fields[0];
          if (!subField || sub.fields.length !== 1)
            throw parser.failAt(cond.field.pos, 'semi join sub-selects must select one field', 'MALFORMED_QUERY');
          candidates = sub.rows.map((r) => r[subField.name] ?? null);
        }
        const keys = new Set(candidates.map((c) => equalityKey(f, c)));
        return (r) => keys.has(equalityKey(f, r.fields[f.name] ?? null)) !== cond.negate;
      }
      case 'compare': {
        const f = resolve(cond.field);
        const expected = literalValue(parser, f, cond.value, cond.valuePos);
        const op = cond.op;
        if (op === 'like') {
          const pattern = typeof expected === 'string' ? likeToRegExp(expected) : null;
          return (r) => {
            const actual = r.fields[f.name] ?? null;
            return pattern !== null && typeof actual === 'string' && pattern.test(actual);
          };
        }
        return (r) => {
          const actual = r.fields[f.name] ?? null;
          if (op === '=') return equalValues(f, actual, expected);
          if (op === '!=') return !equalValues(f, actual, expected);
          // Ordering comparisons never match null (SOQL Reference, "Comparison Operators").
          if (actual === null || expected === null) return false;
          const c = compareValues(f, actual, expected);
          return op === '<' ? c < 0 : op === '>' ? c > 0 : op === '<=' ? c <= 0 : c >= 0;
        };
      }
      default:
        return () => false;
    }
  };
  const where = query.where ? compile(query.where) : null;
  let rows = where === null ? org.all(def.name) : org.all(def.name).filter(where);
  if (query.orderBy.length > 0) {
    const order = query.orderBy.map((o) => ({ ...o, def: resolve(o.field) }));
    rows = [...rows].sort((a, b) => {
      for (const o of order) {
        const x = a.fields[o.def.name] ?? null;
        const y = b.fields[o.def.name] ?? null;
        if (x === null || y === null) {
          if (x === y) continue;
          const nullFirst = x === null ? -1 : 1;
          return o.nullsLast ? -nullFirst : nullFirst;
        }
        const c = compareValues(o.def, x, y);
        if (c !== 0) return o.descending ? -c : c;
      }
      return 0;
    });
  }
  if (query.offset !== undefined) rows = rows.slice(query.offset);
  if (query.limit !== undefined) rows = rows.slice(0, query.limit);
  return { type: def, count: query.count, fields, rows: rows.map((r) => org.visibleFields(def, r)) };
}

/** Two values are equal for `equalValues` exactly when their keys are: lets an IN list be a set. */
function equalityKey(f: FieldDef, v: FieldValue): string {
  if (f.type === 'boolean') return `b:${String(v ?? false)}`;
  if (v === null) return 'null';
  if (f.type === 'id' || f.type === 'reference') return `id:${String(v).slice(0, 15)}`;
  if (f.type === 'datetime') return `t:${Date.parse(String(v))}`;
  return `v:${String(v).toLowerCase()}`;
}

function equalValues(f: FieldDef, actual: FieldValue, expected: FieldValue): boolean {
  if (actual === null || expected === null) {
    // A checkbox is never null: comparing it to null is comparing it to false.
    if (f.type === 'boolean') return (actual ?? false) === (expected ?? false);
    return actual === expected;
  }
  if (f.type === 'id' || f.type === 'reference') return sameId(String(actual), String(expected));
  return compareValues(f, actual, expected) === 0;
}

function literalValue(parser: SoqlParser, f: FieldDef, lit: Literal, pos: number): FieldValue {
  const mismatch = (typeName: string): SalesforceApiError =>
    parser.failAt(
      pos,
      `value of filter criterion for field '${f.name}' must be of type ${typeName} and should not be enclosed in quotes`,
      'INVALID_FIELD',
    );
  if (lit.kind === 'null') return null;
  switch (f.type) {
    case 'boolean':
      if (lit.kind !== 'boolean') throw mismatch('boolean');
      return lit.value;
    case 'datetime':
      if (lit.kind !== 'datetime') throw mismatch('dateTime');
      return new Date(lit.ms).toISOString();
    case 'double':
      if (lit.kind !== 'number') throw mismatch('double');
      return lit.value;
    default:
      if (lit.kind !== 'string')
        throw parser.failAt(pos, `invalid ${f.type} value for field '${f.name}'`, 'INVALID_FIELD');
      return lit.value;
  }
}
