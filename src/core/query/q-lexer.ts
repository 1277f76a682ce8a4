/**
 * Lexical pieces of the NGSI-LD Query Language (NGSI-LD §4.9): value literals, quoted strings and
 * regular expressions. Pure functions over the input string; the parser in q-parser.ts turns their
 * error results into positioned syntax errors.
 */
import type { QScalar } from './q-ast.js';

const NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const ZONE = '(?:Z|[+-]\\d{2}(?::?\\d{2})?)';
const TIME_RE = new RegExp(`^\\d{2}:\\d{2}(?::\\d{2}(?:[.,]\\d+)?)?${ZONE}?$`);
const DATETIME_RE = new RegExp(`^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(?::\\d{2}(?:[.,]\\d+)?)?${ZONE}?$`);
const URI_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\S/;

/** A full IRI (`scheme://…` or `urn:…`), as opposed to a term or a compact IRI `prefix:name`. */
export const ABSOLUTE_IRI_RE = /^(?:[A-Za-z][A-Za-z0-9+-]*:\/\/|urn:)/i;
/** How a term (attribute name, entity type, bare value) starts (§4.9 AttrName: unicodeLetter). */
export const PLAIN_NAME_RE = /^[\p{L}_]/u;

/**
 * The scalar an unquoted token stands for: `true`/`false`, a JSON number, an ISO 8601 date-time,
 * date or time (§4.6.3), else a URI or bare term; undefined when it is none of these.
 */
export function classifyToken(token: string): QScalar | undefined {
  if (token === 'true' || token === 'false') return { type: 'boolean', value: token === 'true' };
  if (NUMBER_RE.test(token)) {
    const value = Number(token);
    return Number.isFinite(value) ? { type: 'number', value } : undefined;
  }
  if (DATETIME_RE.test(token)) return { type: 'dateTime', value: token };
  if (DATE_RE.test(token)) return { type: 'date', value: token };
  if (TIME_RE.test(token)) return { type: 'time', value: token };
  if (URI_RE.test(token) || PLAIN_NAME_RE.test(token)) return { type: 'uri', value: token };
  return undefined;
}

/** Scalars with an order (§4.9 ComparableValue). */
export function isOrdered(v: QScalar): boolean {
  return (
    v.type === 'number' ||
    v.type === 'string' ||
    v.type === 'dateTime' ||
    v.type === 'date' ||
    v.type === 'time'
  );
}

/** Index of the `"` closing the quoted text that starts at `start`, or -1. */
function closingQuote(src: string, start: number): number {
  let i = start + 1;
  while (i < src.length && src[i] !== '"') i += src[i] === '\\' ? 2 : 1;
  return i < src.length ? i : -1;
}

/** A JSON string (RFC 8259 §7) starting at the `"` at `start`; `end` is the index after it. */
export function scanQuoted(src: string, start: number): { value: string; end: number } | { error: string } {
  const close = closingQuote(src, start);
  if (close < 0) return { error: 'Unterminated string' };
  // Control characters may arrive raw after URL decoding; JSON wants them escaped.
  const raw = src
    .slice(start, close + 1)
    .replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  try {
    return { value: JSON.parse(raw) as string, end: close + 1 };
  } catch {
    return { error: 'Invalid escape sequence in string' };
  }
}

/**
 * The text of a regular expression starting at `start`: quoted (`"..."`, where only `\"` is
 * unescaped) or bare. A bare one ends at `;`, `|` or an unmatched `)` outside brackets and character
 * classes; alternation at the top level needs quotes or a group.
 */
export function scanRegex(src: string, start: number): { raw: string; end: number } | { error: string } {
  if (src[start] === '"') {
    const close = closingQuote(src, start);
    if (close < 0) return { error: 'Unterminated quoted regular expression' };
    return { raw: src.slice(start + 1, close).replace(/\\"/g, '"'), end: close + 1 };
  }
  let depth = 0;
  let inClass = false;
  let i = start;
  for (; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')' && depth-- === 0) break;
    else if ((c === ';' || c === '|') && depth === 0) break;
  }
  return { raw: src.slice(start, Math.min(i, src.length)), end: Math.min(i, src.length) };
}
