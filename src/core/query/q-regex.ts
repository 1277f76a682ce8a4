/**
 * Regular expressions in q terms (`attr~=regex`, NGSI-LD §4.9, RegExp per IEEE 1003.2).
 *
 * Clients write JavaScript/PCRE-flavoured patterns as often as POSIX ones, and the store evaluates
 * them with PostgreSQL's ARE engine (jsonpath `like_regex`). This module accepts the subset on which
 * both agree, rewrites the few spellings that differ (`\b` → `\y`, `\xHH` → `\u00HH`) and rejects
 * the rest with a message, so that a pattern never means something else than the client intended.
 */

export type RegexTranslation = { ok: true; pattern: string } | { ok: false; message: string; offset: number };

/** Flags a pattern may start with as an inline group, e.g. `(?i)`; passed to `like_regex ... flag`. */
const INLINE_FLAGS = /^\(\?([a-z]+)\)/;
const SUPPORTED_FLAGS = 'ims';

/**
 * Splits a leading inline flag group (`(?i)`, `(?is)`) off a pattern.
 * Returns an error for flags other than `i` (case-insensitive), `m` (multi-line), `s` (dot-all).
 */
export function splitInlineFlags(raw: string): { source: string; flags: string } | { error: string } {
  const m = INLINE_FLAGS.exec(raw);
  if (!m) return { source: raw, flags: '' };
  const flags = m[1] ?? '';
  for (const f of flags) {
    if (!SUPPORTED_FLAGS.includes(f)) return { error: `unsupported inline flag '${f}' (supported: i, m, s)` };
  }
  if (new Set(flags).size !== flags.length) return { error: `repeated inline flag in '(?${flags})'` };
  return { source: raw.slice(m[0].length), flags: [...flags].sort().join('') };
}

const SIMPLE_ESCAPES = 'dDwWsSnrtfv';

/**
 * Checks that `source` (without inline flags) is a valid pattern in the supported subset and
 * translates it to PostgreSQL ARE syntax. Pure; `offset` in errors is relative to `source`.
 */
export function translateRegex(source: string): RegexTranslation {
  try {
    new RegExp(source);
  } catch (err) {
    return { ok: false, message: `invalid regular expression: ${(err as Error).message}`, offset: 0 };
  }
  let out = '';
  let inClass = false;
  let i = 0;
  const fail = (message: string): RegexTranslation => ({ ok: false, message, offset: i });
  while (i < source.length) {
    const c = source[i] as string;
    if (c === '\\') {
      const n = source[i + 1];
      if (n === undefined) return fail('trailing backslash');
      if (SIMPLE_ESCAPES.includes(n)) {
        out += `\\${n}`;
        i += 2;
      } else if (n === 'b' || n === 'B') {
        // Word boundaries are \y and \Y in ARE; inside a class \b is a backspace in both.
        if (inClass && n === 'B') return fail("'\\B' inside a character class");
        out += inClass ? '\\b' : n === 'b' ? '\\y' : '\\Y';
        i += 2;
      } else if (n === 'c') {
        const l = source[i + 2];
        if (l === undefined || !/[A-Za-z]/.test(l)) return fail("'\\c' must be followed by a letter");
        out += `\\c${l}`;
        i += 3;
      } else if (n === 'x') {
        const hex = source.slice(i + 2, i + 4);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return fail("'\\x' must be followed by two hexadecimal digits");
        out += `\\u00${hex}`;
        i += 4;
      } else if (n === 'u') {
        const hex = source.slice(i + 2, i + 6);
        if (!/^[0-9A-Fa-f]{4}$/.test(hex)) return fail("'\\u' must be followed by four hexadecimal digits");
        out += `\\u${hex}`;
        i += 6;
      } else if (n >= '1' && n <= '9') {
        if (inClass) return fail('back-reference inside a character class');
        const digits = /^[0-9]+/.exec(source.slice(i + 1))?.[0] ?? n;
        out += `\\${digits}`;
        i += 1 + digits.length;
      } else if (/[A-Za-z0-9]/.test(n)) {
        return fail(`unsupported escape '\\${n}'`);
      } else {
        // An escaped punctuation character is that character in both dialects.
        out += `\\${n}`;
        i += 2;
      }
      continue;
    }
    if (inClass) {
      if (c === '[' && /[:=.]/.test(source[i + 1] ?? '')) {
        // POSIX [:alpha:], [=a=], [.x.] inside a bracket expression: copy through the closing pair.
        const close = source.indexOf(`${source[i + 1]}]`, i + 2);
        if (close < 0) return fail(`unterminated '[${source[i + 1]}' in a character class`);
        out += source.slice(i, close + 2);
        i = close + 2;
        continue;
      }
      if (c === ']') inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      const negated = source[i + 1] === '^';
      const first = source[i + (negated ? 2 : 1)];
      // JS reads "[]" as an empty class and "[^]" as any character; POSIX reads "]" there as a literal.
      if (first === ']')
        return fail(`'${negated ? '[^]' : '[]'}' is read differently by POSIX and JavaScript`);
      inClass = true;
      out += negated ? '[^' : '[';
      i += negated ? 2 : 1;
      continue;
    }
    if (c === '(' && source[i + 1] === '?') {
      const group = /^\(\?(?::|=|!|<=|<!)/.exec(source.slice(i))?.[0];
      if (!group)
        return fail(
          'unsupported group syntax (named groups and inline flags inside a pattern are not supported)',
        );
      out += group;
      i += group.length;
      continue;
    }
    out += c;
    i++;
  }
  return { ok: true, pattern: out };
}
