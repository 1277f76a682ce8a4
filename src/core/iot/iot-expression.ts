/**
 * The attribute expression language of device mappings: a safe subset of the IoT Agent's JEXL,
 * parsed with jsep and evaluated here over the AST, never with eval or Function. Arithmetic,
 * comparison, logic, `?:`, array and object literals, member access on data, named functions
 * (`round(x)`) and JEXL pipes (`x | trim | substr(0, 3)`). Anything else is refused when the
 * expression is parsed (at provisioning time), not when a reading arrives.
 */
import jsep from 'jsep';
import type { Expression } from 'jsep';

/** An expression that cannot be parsed or uses something outside the whitelist. */
export class ExpressionError extends Error {
  override name = 'ExpressionError';
}

/** A parsed, checked expression; evaluate it with {@link evaluateExpression}. */
export interface CompiledExpression {
  readonly source: string;
  readonly ast: Expression;
  /** The measure and attribute names it reads. */
  readonly variables: string[];
}

const MAX_SOURCE = 1000;
const MAX_NODES = 500;
const BINARY_OPS = [
  '+',
  '-',
  '*',
  '/',
  '%',
  '==',
  '!=',
  '===',
  '!==',
  '<',
  '<=',
  '>',
  '>=',
  '&&',
  '||',
  '|',
] as const;
const UNARY_OPS = ['-', '+', '!'] as const;
const FORBIDDEN_MEMBERS = new Set(['__proto__', 'prototype', 'constructor']);

type Fn = (...args: unknown[]) => unknown;
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const str = (v: unknown): string =>
  typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const isoDate = (v: unknown): string | undefined => {
  const d = new Date(typeof v === 'number' || typeof v === 'string' ? v : NaN);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
};

/** The functions expressions may call, by name (the IoT Agent's transforms without regular expressions). */
export const EXPRESSION_FUNCTIONS: Readonly<Record<string, Fn>> = {
  round: (v, digits) => {
    const f = 10 ** (digits === undefined ? 0 : num(digits));
    return Math.round(num(v) * f) / f;
  },
  floor: (v) => Math.floor(num(v)),
  ceil: (v) => Math.ceil(num(v)),
  abs: (v) => Math.abs(num(v)),
  min: (...vs) => Math.min(...vs.map(num)),
  max: (...vs) => Math.max(...vs.map(num)),
  pow: (a, b) => num(a) ** num(b),
  sqrt: (v) => Math.sqrt(num(v)),
  parseint: (v) => Number.parseInt(str(v), 10),
  parsefloat: (v) => Number.parseFloat(str(v)),
  tofixed: (v, d) => num(v).toFixed(Math.min(20, Math.max(0, num(d)))),
  tostring: (v) => str(v),
  trim: (v) => str(v).trim(),
  length: (v) => (Array.isArray(v) ? v.length : str(v).length),
  lengtharray: (v) => arr(v).length,
  indexOf: (v, s) => str(v).indexOf(str(s)),
  substr: (v, a, b) => str(v).substring(num(a), b === undefined ? undefined : num(a) + num(b)),
  touppercase: (v) => str(v).toUpperCase(),
  tolowercase: (v) => str(v).toLowerCase(),
  split: (v, s) => str(v).split(str(s)),
  joinarrtostr: (v, s) => arr(v).map(str).join(str(s)),
  replacestr: (v, a, b) => str(v).replace(str(a), str(b)),
  replaceallstr: (v, a, b) => str(v).split(str(a)).join(str(b)),
  addreduce: (v) => arr(v).reduce<number>((s, x) => s + num(x), 0),
  slice: (v, a, b) => arr(v).slice(num(a), b === undefined ? undefined : num(b)),
  isarray: (v) => Array.isArray(v),
  isnan: (v) => Number.isNaN(num(v)),
  typeof: (v) => (Array.isArray(v) ? 'object' : v === null ? 'object' : typeof v),
  jsonparse: (v) => {
    try {
      return JSON.parse(str(v)) as unknown;
    } catch {
      return undefined;
    }
  },
  jsonstringify: (v) => JSON.stringify(v),
  toisodate: isoDate,
  toisostring: isoDate,
  gettime: (v) => new Date(typeof v === 'number' || typeof v === 'string' ? v : NaN).getTime(),
  mapper: (v, values, choices) => arr(choices)[arr(values).findIndex((x) => x === v)],
  thmapper: (v, values, choices) => {
    const i = arr(values).findIndex((t) => num(v) <= num(t));
    return i < 0 ? undefined : arr(choices)[i];
  },
  point: (lon, lat) => ({ type: 'Point', coordinates: [num(lon), num(lat)] }),
};

let objectLiteralsInstalled = false;

/** Teaches jsep `{ key: expr, … }` object literals (the IoT Agent builds GeoJSON with them). */
function installObjectLiterals(): void {
  if (objectLiteralsInstalled) return;
  objectLiteralsInstalled = true;
  const OPEN = 123; // {
  const CLOSE = 125; // }
  const COLON = 58;
  const COMMA = 44;
  jsep.hooks.add('gobble-token', function (env) {
    // `this.code` moves with `this.index`: read it through a function so it is not narrowed.
    const code = (): number => this.code;
    if (code() !== OPEN) return;
    this.index++;
    const properties: Expression[] = [];
    for (;;) {
      this.gobbleSpaces();
      if (code() === CLOSE) {
        this.index++;
        break;
      }
      const key = this.gobbleToken();
      if (!key || (key.type !== 'Identifier' && key.type !== 'Literal')) this.throwError('Expected a key');
      this.gobbleSpaces();
      if (code() !== COLON) this.throwError('Expected :');
      this.index++;
      const value = this.gobbleExpression();
      if (!value) this.throwError('Expected a value');
      properties.push({ type: 'Property', key, value });
      this.gobbleSpaces();
      if (code() === COMMA) this.index++;
      else if (code() !== CLOSE) this.throwError('Expected , or }');
    }
    env.node = this.gobbleTokenProperty({ type: 'ObjectExpression', properties });
  });
}

/**
 * Parses and checks an expression. Throws {@link ExpressionError} for a syntax error, an
 * operator or function outside the whitelist, `this`, member names such as `__proto__`, or an
 * expression longer than 1000 characters or 500 nodes.
 */
export function compileExpression(source: string): CompiledExpression {
  if (typeof source !== 'string' || source.trim() === '')
    throw new ExpressionError('The expression is empty');
  if (source.length > MAX_SOURCE) throw new ExpressionError('The expression is longer than 1000 characters');
  installObjectLiterals();
  let ast: Expression;
  try {
    ast = jsep(source);
  } catch (err) {
    throw new ExpressionError(`Cannot parse ${JSON.stringify(source)}: ${(err as Error).message}`);
  }
  const variables = new Set<string>();
  let nodes = 0;
  const check = (n: Expression, asFunction = false): void => {
    if (++nodes > MAX_NODES) throw new ExpressionError('The expression is too large');
    switch (n.type) {
      case 'Literal':
        if ((n as jsep.Literal).value instanceof RegExp)
          throw new ExpressionError('Regular expressions are not allowed');
        return;
      case 'Identifier': {
        const name = (n as jsep.Identifier).name;
        if (asFunction) {
          if (!Object.hasOwn(EXPRESSION_FUNCTIONS, name))
            throw new ExpressionError(`Unknown function ${name}`);
        } else variables.add(name);
        return;
      }
      case 'BinaryExpression': {
        const b = n as jsep.BinaryExpression;
        if (!(BINARY_OPS as readonly string[]).includes(b.operator))
          throw new ExpressionError(`The operator ${b.operator} is not allowed`);
        check(b.left);
        if (b.operator === '|') checkTransform(b.right);
        else check(b.right);
        return;
      }
      case 'UnaryExpression': {
        const u = n as jsep.UnaryExpression;
        if (!(UNARY_OPS as readonly string[]).includes(u.operator))
          throw new ExpressionError(`The operator ${u.operator} is not allowed`);
        check(u.argument);
        return;
      }
      case 'ConditionalExpression': {
        const c = n as jsep.ConditionalExpression;
        check(c.test);
        check(c.consequent);
        check(c.alternate);
        return;
      }
      case 'ArrayExpression':
        for (const e of (n as jsep.ArrayExpression).elements) if (e) check(e);
        return;
      case 'ObjectExpression':
        for (const p of n.properties as Expression[]) check(p.value as Expression);
        return;
      case 'MemberExpression': {
        const m = n as jsep.MemberExpression;
        check(m.object);
        if (m.computed) check(m.property);
        else if (FORBIDDEN_MEMBERS.has((m.property as jsep.Identifier).name))
          throw new ExpressionError(`The member ${(m.property as jsep.Identifier).name} is not allowed`);
        return;
      }
      case 'CallExpression': {
        const c = n as jsep.CallExpression;
        if (c.callee.type !== 'Identifier') throw new ExpressionError('Only named functions can be called');
        check(c.callee, true);
        for (const a of c.arguments) check(a);
        return;
      }
      default:
        throw new ExpressionError(`${n.type} is not allowed in an expression`);
    }
  };
  // The right side of a pipe: a function name, a call whose value becomes the first argument,
  // or either followed by member access (`split(', ')[1]`).
  const checkTransform = (n: Expression): void => {
    if (n.type === 'Identifier') return check(n, true);
    if (n.type === 'CallExpression') {
      const c = n as jsep.CallExpression;
      if (c.callee.type !== 'Identifier') throw new ExpressionError('Only named functions can be piped to');
      check(c.callee, true);
      for (const a of c.arguments) check(a);
      return;
    }
    if (n.type === 'MemberExpression') {
      const m = n as jsep.MemberExpression;
      checkTransform(m.object);
      if (m.computed) check(m.property);
      return;
    }
    throw new ExpressionError('The right side of | must be a function');
  };
  check(ast);
  return { source, ast, variables: [...variables] };
}

/**
 * Evaluates a compiled expression against named values (measures and attributes computed
 * before). An unknown name is `undefined`; arithmetic on it gives NaN. The result is returned as
 * is: callers treat `undefined`, `null` and NaN as "no value" (the IoT Agent skips such attributes).
 */
export function evaluateExpression(
  expr: CompiledExpression,
  scope: Readonly<Record<string, unknown>>,
): unknown {
  const ev = (n: Expression): unknown => {
    switch (n.type) {
      case 'Literal':
        return (n as jsep.Literal).value;
      case 'Identifier': {
        const name = (n as jsep.Identifier).name;
        return Object.hasOwn(scope, name) ? scope[name] : undefined;
      }
      case 'BinaryExpression': {
        const b = n as jsep.BinaryExpression;
        if (b.operator === '&&') return ev(b.left) ? ev(b.right) : ev(b.left);
        if (b.operator === '||') return ev(b.left) || ev(b.right);
        if (b.operator === '|') return pipe(ev(b.left), b.right);
        return binary(b.operator, ev(b.left), ev(b.right));
      }
      case 'UnaryExpression': {
        const u = n as jsep.UnaryExpression;
        const v = ev(u.argument);
        return u.operator === '!' ? !v : u.operator === '-' ? -num(v) : num(v);
      }
      case 'ConditionalExpression': {
        const c = n as jsep.ConditionalExpression;
        return ev(c.test) ? ev(c.consequent) : ev(c.alternate);
      }
      case 'ArrayExpression':
        return (n as jsep.ArrayExpression).elements.map((e) => (e ? ev(e) : undefined));
      case 'ObjectExpression': {
        const out: Record<string, unknown> = {};
        for (const p of n.properties as Expression[]) {
          const key = p.key as Expression;
          const name =
            key.type === 'Identifier' ? (key as jsep.Identifier).name : String((key as jsep.Literal).value);
          if (!FORBIDDEN_MEMBERS.has(name)) out[name] = ev(p.value as Expression);
        }
        return out;
      }
      case 'MemberExpression': {
        const m = n as jsep.MemberExpression;
        const key = m.computed ? ev(m.property) : (m.property as jsep.Identifier).name;
        return member(ev(m.object), key);
      }
      case 'CallExpression': {
        const c = n as jsep.CallExpression;
        return call((c.callee as jsep.Identifier).name, c.arguments.map(ev));
      }
      default:
        throw new ExpressionError(`${n.type} is not allowed in an expression`);
    }
  };
  const pipe = (value: unknown, n: Expression): unknown => {
    if (n.type === 'Identifier') return call((n as jsep.Identifier).name, [value]);
    if (n.type === 'CallExpression') {
      const c = n as jsep.CallExpression;
      return call((c.callee as jsep.Identifier).name, [value, ...c.arguments.map(ev)]);
    }
    const m = n as jsep.MemberExpression;
    const key = m.computed ? ev(m.property) : (m.property as jsep.Identifier).name;
    return member(pipe(value, m.object), key);
  };
  return ev(expr.ast);
}

function call(name: string, args: unknown[]): unknown {
  const fn = Object.hasOwn(EXPRESSION_FUNCTIONS, name) ? EXPRESSION_FUNCTIONS[name] : undefined;
  if (!fn) throw new ExpressionError(`Unknown function ${name}`);
  return fn(...args);
}

function member(obj: unknown, key: unknown): unknown {
  if (typeof key !== 'string' && typeof key !== 'number') return undefined;
  if (typeof key === 'string' && FORBIDDEN_MEMBERS.has(key)) return undefined;
  if (Array.isArray(obj)) {
    const i = typeof key === 'number' ? key : Number(key);
    return Number.isInteger(i) && i >= 0 && i < obj.length ? obj[i] : undefined;
  }
  if (typeof obj === 'object' && obj !== null && Object.hasOwn(obj, key))
    return (obj as Record<string | number, unknown>)[key];
  return undefined;
}

function binary(op: string, a: unknown, b: unknown): unknown {
  switch (op) {
    case '+':
      return typeof a === 'string' || typeof b === 'string' ? str(a) + str(b) : num(a) + num(b);
    case '-':
      return num(a) - num(b);
    case '*':
      return num(a) * num(b);
    case '/':
      return num(a) / num(b);
    case '%':
      return num(a) % num(b);
    case '==':
      // JEXL's == compares loosely between numbers and numeric strings, which devices send.
      return a === b || (isScalar(a) && isScalar(b) && String(a) === String(b));
    case '!=':
      return !binary('==', a, b);
    case '===':
      return a === b;
    case '!==':
      return a !== b;
    case '<':
      return compare(a, b) < 0;
    case '<=':
      return compare(a, b) <= 0;
    case '>':
      return compare(a, b) > 0;
    case '>=':
      return compare(a, b) >= 0;
    default:
      throw new ExpressionError(`The operator ${op} is not allowed`);
  }
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  const d = num(a) - num(b);
  return Number.isNaN(d) ? NaN : d;
}

/** True for what the IoT Agent treats as "no value": undefined, null and NaN. */
export function isNoValue(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'number' && Number.isNaN(v));
}
