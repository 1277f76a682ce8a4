/**
 * Parser for the NGSI-LD Query Language (NGSI-LD §4.9, the `q` parameter) into the AST of q-ast.ts.
 * Pure: no I/O, no @context; names and unquoted values stay as written. The HTTP layer has already
 * URL-decoded the string.
 *
 * Beyond the ABNF of §4.9 it accepts, as common brokers do: `!attr` (attribute does not exist), nested
 * brackets, `a[x][y]` as a spelling of `a[x.y]`, full IRIs as attribute names, unquoted URIs and terms
 * in value lists, quoted regular expressions (`a~="x|y"`) and blanks around operators.
 */
import {
  Q_MEMBERS,
  type QExpr,
  type QMember,
  type QOp,
  type QPath,
  type QRegex,
  type QScalar,
  type QTerm,
  type QValue,
} from './q-ast.js';
import {
  ABSOLUTE_IRI_RE,
  classifyToken,
  isOrdered,
  PLAIN_NAME_RE,
  scanQuoted,
  scanRegex,
} from './q-lexer.js';
import { splitInlineFlags, translateRegex } from './q-regex.js';

export type * from './q-ast.js';
export { Q_MEMBERS, Q_TIME_MEMBERS } from './q-ast.js';

/** A q or scopeQ string that does not follow the grammar. `position` is a 0-based index into the input. */
export class QuerySyntaxError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(message);
    this.name = 'QuerySyntaxError';
    this.position = position;
  }
}

/**
 * Parses an NGSI-LD q expression (NGSI-LD §4.9). `;` (AND) binds tighter than `|` (OR); brackets
 * group. Throws {@link QuerySyntaxError} with a message naming the position, e.g.
 * "Expected a value after '==' at position 12".
 */
export function parseQ(input: string): QExpr {
  return new QParser(input).parse();
}

const OPERATORS = ['==', '!~=', '!=', '>=', '>', '<=', '<', '~='] as const;
/** Characters that end a name (attribute, sub-attribute, entity type). */
const NAME_STOP = new Set([...'.[]{}()=!<>~;|,"\''].concat([' ', '\t', '\n', '\r']));
/** Characters that end an unquoted value. */
const VALUE_STOP = new Set([...',;|()"'].concat([' ', '\t', '\n', '\r']));
/** Characters that end a key inside `[...]`. */
const KEY_STOP = new Set([...'.[]']);

class QParser {
  private pos = 0;
  constructor(private readonly src: string) {}

  parse(): QExpr {
    this.skipWs();
    if (this.atEnd()) this.fail('Empty q expression', this.pos);
    const expr = this.parseOr();
    this.skipWs();
    if (!this.atEnd()) {
      if (this.peek() === ')') this.fail("Unexpected ')' without a matching '('", this.pos);
      this.fail(`Unexpected '${this.peek()}'; expected ';', '|' or the end`, this.pos);
    }
    return expr;
  }

  private parseOr(): QExpr {
    const items = [this.parseAnd()];
    while (this.peekAfterWs() === '|') {
      this.pos++;
      items.push(this.parseAnd());
    }
    return combine('or', items);
  }

  private parseAnd(): QExpr {
    const items = [this.parseUnary()];
    while (this.peekAfterWs() === ';') {
      this.pos++;
      items.push(this.parseUnary());
    }
    return combine('and', items);
  }

  private parseUnary(): QExpr {
    this.skipWs();
    if (this.peek() !== '(') return this.parseTerm();
    const open = this.pos++;
    const expr = this.parseOr();
    if (this.peekAfterWs() !== ')')
      this.fail(`Unclosed '(' (opened at position ${open}): expected ')'`, this.pos);
    this.pos++;
    return expr;
  }

  private parseTerm(): QTerm {
    if (this.atEnd() || ';|)'.includes(this.peek())) this.fail('Expected a query term', this.pos);
    if (this.peek() === '!') {
      this.pos++;
      if (this.peek() === '(') this.fail("'!' can only be applied to an attribute, not to a group", this.pos);
      const path = this.parsePath();
      this.skipWs();
      const opPos = this.pos;
      if (this.readOperator())
        this.fail("'!' (attribute does not exist) cannot be combined with an operator", opPos);
      this.expectTermEnd();
      return { kind: 'term', path, op: 'notExists' };
    }
    const path = this.parsePath();
    this.skipWs();
    const opPos = this.pos;
    const op = this.readOperator();
    let term: QTerm;
    switch (op) {
      case undefined:
        this.expectTermEnd('an operator (==, !=, >, >=, <, <=, ~=, !~=), ');
        return { kind: 'term', path, op: 'exists' };
      case '==':
      case '!=':
        term = { kind: 'term', path, op, value: this.parseEqualityValue(op) };
        break;
      case '>':
      case '>=':
      case '<':
      case '<=':
        term = { kind: 'term', path, op, value: this.parseComparable(op) };
        break;
      case '~=':
      case '!~=':
        term = { kind: 'term', path, op, value: this.parseRegex(op, opPos) };
        break;
    }
    this.expectTermEnd();
    return term;
  }

  // ---- attribute paths -------------------------------------------------------------------------

  private parsePath(): QPath {
    const attr = this.parseName('an attribute name');
    if (this.peek() === '{') return { attr, sub: [], linked: this.parseLinked() };
    const path: QPath = { attr, sub: [] };
    let member: QMember | undefined;
    while (this.peek() === '.') {
      const dot = this.pos++;
      if (member) this.fail(`'${member}' must be the last element of an attribute path`, dot);
      const name = this.parseName("a sub-attribute name after '.'");
      if (isMember(name)) member = name;
      else path.sub.push(name);
    }
    if (member) path.member = member;
    if (this.peek() === '[') {
      if (member) this.fail(`A path into the value cannot follow '.${member}'`, this.pos);
      path.valuePath = this.parseValuePath();
    }
    return path;
  }

  /** `{[Type(,Type)*:]path}` after a Relationship name. */
  private parseLinked(): NonNullable<QPath['linked']> {
    const open = this.pos++;
    const hint = /^([^{}:,/\s]+(?:,[^{}:,/\s]+)*):(?!\/)/u.exec(this.src.slice(this.pos));
    let types: string[] | undefined;
    if (hint?.[1] !== undefined) {
      types = hint[1].split(',');
      for (const t of types) {
        if (!PLAIN_NAME_RE.test(t) || [...t].some((ch) => NAME_STOP.has(ch)))
          this.fail(`Invalid entity type '${t}'`, this.pos);
      }
      this.pos += hint[0].length;
    }
    const path = this.parsePath();
    if (this.peek() !== '}') this.fail(`Unclosed '{' (opened at position ${open}): expected '}'`, this.pos);
    this.pos++;
    return types ? { types, path } : { path };
  }

  /** `[a.b]`, also `[a][b]`; keys are JSON member names or `*`. */
  private parseValuePath(): string[] {
    const keys: string[] = [];
    while (this.peek() === '[') {
      const open = this.pos++;
      for (;;) {
        const start = this.pos;
        while (!this.atEnd() && !KEY_STOP.has(this.peek())) this.pos++;
        if (this.pos === start) this.fail("Expected a member name inside '[...]'", this.pos);
        keys.push(this.src.slice(start, this.pos));
        if (this.peek() === '.') {
          this.pos++;
          continue;
        }
        if (this.peek() !== ']')
          this.fail(`Unclosed '[' (opened at position ${open}): expected ']'`, this.pos);
        this.pos++;
        break;
      }
    }
    return keys;
  }

  /**
   * A name segment. A full IRI (`scheme://…`, `urn:…`) keeps its dots, except before a member name
   * (`.observedAt`) or another full IRI, which start a new path element.
   */
  private parseName(what: string): string {
    const start = this.pos;
    this.skipName();
    let name = this.src.slice(start, this.pos);
    if (name === '') this.fail(`Expected ${what}`, start);
    if (ABSOLUTE_IRI_RE.test(name)) {
      while (
        this.peek() === '.' &&
        !this.memberAt(this.pos + 1) &&
        !ABSOLUTE_IRI_RE.test(this.src.slice(this.pos + 1))
      ) {
        this.pos++;
        this.skipName();
        name = this.src.slice(start, this.pos);
      }
      return name;
    }
    if (!PLAIN_NAME_RE.test(name)) this.fail(`Invalid name '${name}': a name starts with a letter`, start);
    return name;
  }

  private skipName(): void {
    while (!this.atEnd() && !NAME_STOP.has(this.peek())) this.pos++;
  }

  private memberAt(at: number): boolean {
    return Q_MEMBERS.some((m) => {
      if (!this.src.startsWith(m, at)) return false;
      const after = this.src[at + m.length];
      return after === undefined || (NAME_STOP.has(after) && after !== '.');
    });
  }

  // ---- operators and values --------------------------------------------------------------------

  private readOperator(): Exclude<QOp, 'exists' | 'notExists'> | undefined {
    for (const op of OPERATORS) {
      if (this.src.startsWith(op, this.pos)) {
        this.pos += op.length;
        return op;
      }
    }
    if (this.peek() === '=') this.fail("Unknown operator '='; use '==' for equality", this.pos);
    if (this.peek() === '!' || this.peek() === '~')
      this.fail(`Unknown operator starting with '${this.peek()}'`, this.pos);
    return undefined;
  }

  private parseEqualityValue(op: '==' | '!='): QValue {
    this.skipWs();
    const first = this.parseValueOrRange(op);
    if (this.peekAfterWs() !== ',') return first;
    const items: QScalar[] = [];
    for (let v: QValue = first; ;) {
      if (v.type === 'range' || v.type === 'list') this.fail('A value list cannot contain ranges', this.pos);
      items.push(v);
      if (this.peekAfterWs() !== ',') break;
      this.pos++;
      this.skipWs();
      v = this.parseValueOrRange(op);
    }
    return { type: 'list', items };
  }

  private parseValueOrRange(op: string): QScalar | QValue {
    const start = this.pos;
    if (this.peek() === '"') {
      const from: QScalar = { type: 'string', value: this.parseQuoted() };
      if (!this.src.startsWith('..', this.pos)) return from;
      this.pos += 2;
      return this.range(from, this.parseScalar('the upper bound of a range'), start);
    }
    const token = this.readToken();
    if (token === '') this.fail(`Expected a value after '${op}'`, start);
    const dots = token.indexOf('..');
    if (dots > 0) {
      const from = this.classify(token.slice(0, dots), start);
      // An unquoted URI or term may contain '..'; other values before '..' start a range.
      if (from.type !== 'uri') {
        const rest = token.slice(dots + 2);
        let to: QScalar;
        if (rest !== '') to = this.classify(rest, start + dots + 2);
        else if (this.peek() === '"') to = { type: 'string', value: this.parseQuoted() };
        else return this.fail("Expected the upper bound of a range after '..'", this.pos);
        return this.range(from, to, start);
      }
    }
    return this.classify(token, start);
  }

  private range(from: QScalar, to: QScalar, start: number): QValue {
    if (!isOrdered(from) || !isOrdered(to)) {
      this.fail('Range bounds must be numbers, quoted strings, dates, times or date-times', start);
    }
    if (from.type !== to.type)
      this.fail(`Range bounds must have the same type (found ${from.type} and ${to.type})`, start);
    return { type: 'range', from, to };
  }

  private parseScalar(what: string): QScalar {
    if (this.peek() === '"') return { type: 'string', value: this.parseQuoted() };
    const start = this.pos;
    const token = this.readToken();
    if (token === '') this.fail(`Expected ${what}`, start);
    return this.classify(token, start);
  }

  private parseComparable(op: string): QScalar {
    this.skipWs();
    const start = this.pos;
    let value: QScalar;
    if (this.peek() === '"') {
      value = { type: 'string', value: this.parseQuoted() };
    } else {
      const token = this.readToken();
      if (token === '') this.fail(`Expected a value after '${op}'`, start);
      const dots = token.indexOf('..');
      if (dots > 0) this.fail(`A range needs '==' or '!=', not '${op}'`, start + dots);
      value = this.classify(token, start);
    }
    if (!isOrdered(value))
      this.fail(`Operator '${op}' needs a number, a quoted string, a date, a time or a date-time`, start);
    if (this.peek() === ',') this.fail(`A value list needs '==' or '!=', not '${op}'`, this.pos);
    if (this.src.startsWith('..', this.pos)) this.fail(`A range needs '==' or '!=', not '${op}'`, this.pos);
    return value;
  }

  /** Reads an unquoted value. */
  private readToken(): string {
    const start = this.pos;
    while (!this.atEnd() && !VALUE_STOP.has(this.peek())) this.pos++;
    return this.src.slice(start, this.pos);
  }

  private classify(token: string, at: number): QScalar {
    return classifyToken(token) ?? this.fail(`Invalid value '${token}'; quote strings with "..."`, at);
  }

  private parseQuoted(): string {
    const start = this.pos;
    const r = scanQuoted(this.src, start);
    if ('error' in r) return this.fail(r.error, start);
    this.pos = r.end;
    return r.value;
  }

  private parseRegex(op: string, opPos: number): QRegex {
    this.skipWs();
    const start = this.pos;
    const scanned = scanRegex(this.src, start);
    if ('error' in scanned) return this.fail(scanned.error, start);
    const raw = scanned.raw;
    this.pos = scanned.end;
    if (raw === '') this.fail(`Expected a regular expression after '${op}'`, opPos + op.length);
    const split = splitInlineFlags(raw);
    if ('error' in split) return this.fail(`Invalid regular expression: ${split.error}`, start);
    const t = translateRegex(split.source);
    if (!t.ok) {
      const quoted = this.src[start] === '"' ? 1 : 0;
      this.fail(
        `Unsupported regular expression: ${t.message}`,
        start + quoted + raw.length - split.source.length + t.offset,
      );
    }
    return { type: 'regex', source: split.source, flags: split.flags };
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private expectTermEnd(expected = ''): void {
    this.skipWs();
    if (this.atEnd() || ';|)'.includes(this.peek())) return;
    this.fail(`Unexpected '${this.peek()}'; expected ${expected}';', '|', ')' or the end`, this.pos);
  }

  private peek(): string {
    return this.src[this.pos] ?? '';
  }

  private peekAfterWs(): string {
    this.skipWs();
    return this.peek();
  }

  private atEnd(): boolean {
    return this.pos >= this.src.length;
  }

  private skipWs(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos] as string)) this.pos++;
  }

  private fail(message: string, position: number): never {
    throw new QuerySyntaxError(`${message} at position ${position}`, position);
  }
}

function combine(kind: 'and' | 'or', items: QExpr[]): QExpr {
  const flat = items.flatMap((e) => (e.kind === kind ? e.items : [e]));
  return flat.length === 1 ? (flat[0] as QExpr) : { kind, items: flat };
}

function isMember(name: string): name is QMember {
  return (Q_MEMBERS as readonly string[]).includes(name);
}
