/**
 * Entity type selection (NGSI-LD §4.17): `A,B` or `A|B` any of, `A;B` all of, with brackets.
 * Terms stay unexpanded; the caller expands them.
 */
import { invalidRequest } from '../errors.js';

export type TypeExpr = { kind: 'type'; name: string } | { kind: 'and' | 'or'; items: TypeExpr[] };

export function parseTypeExpr(input: string): TypeExpr {
  let pos = 0;
  const fail = (msg: string): never => {
    throw invalidRequest(`Invalid type selection ${JSON.stringify(input)}: ${msg} at position ${pos}`);
  };
  const peek = (): string | undefined => input[pos];
  function parseOr(): TypeExpr {
    const items = [parseAnd()];
    while (peek() === ',' || peek() === '|') {
      pos++;
      items.push(parseAnd());
    }
    return items.length === 1 ? (items[0] as TypeExpr) : { kind: 'or', items };
  }
  function parseAnd(): TypeExpr {
    const items = [parseAtom()];
    while (peek() === ';') {
      pos++;
      items.push(parseAtom());
    }
    return items.length === 1 ? (items[0] as TypeExpr) : { kind: 'and', items };
  }
  function parseAtom(): TypeExpr {
    if (peek() === '(') {
      pos++;
      const e = parseOr();
      if (peek() !== ')') fail("expected ')'");
      pos++;
      return e;
    }
    const start = pos;
    while (pos < input.length && !',|;()'.includes(input[pos] as string)) pos++;
    const name = input.slice(start, pos).trim();
    if (name.length === 0 || /[\s"'<>=]/.test(name)) fail('expected a type name');
    return { kind: 'type', name };
  }
  const expr = parseOr();
  if (pos !== input.length) fail('unexpected character');
  return expr;
}

/** Maps every type name in the expression (used to expand terms to IRIs). */
export function mapTypeExpr(e: TypeExpr, f: (name: string) => string): TypeExpr {
  return e.kind === 'type'
    ? { kind: 'type', name: f(e.name) }
    : { kind: e.kind, items: e.items.map((i) => mapTypeExpr(i, f)) };
}
