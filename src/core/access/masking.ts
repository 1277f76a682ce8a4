/**
 * Display masking of personal information (GB/T 35273-2020 §7.3, GB/T 37964-2019 suppression and
 * generalisation). Pure functions: a value in, the masked value out; they never throw on odd input,
 * because a read must not fail on a badly shaped value: what they cannot recognise they redact.
 */

/** How a tagged attribute's value is masked; `auto` recognises the shape of the value. */
export const MASK_KINDS = ['auto', 'mobile', 'id-number', 'name', 'location', 'redact', 'none'] as const;
export type MaskKind = (typeof MASK_KINDS)[number];

const MOBILE_RE = /^(\+?86[- ]?)?(1[3-9]\d)(\d{4})(\d{4})$/;
const ID_RE = /^(\d{6})(\d{8})(\d{3}[\dXx])$/;
const HAN_RE = /^[\u3400-\u9fff\u00b7]{2,}$/u;

/**
 * Mainland mobile numbers keep the first 3 and the last 4 digits: `13812345678` → `138****5678`
 * (a +86 prefix is kept). Anything else is redacted.
 */
export function maskMobile(value: string): string {
  const m = MOBILE_RE.exec(value.replace(/[\s-]/g, ''));
  if (!m) return redactText(value);
  return `${m[1] ?? ''}${m[2]}****${m[4]}`;
}

/**
 * Resident identity numbers (GB 11643) keep the 6-digit area code and the last 4 characters:
 * `110101199003071233` → `110101********1233`; the birth date is what is hidden.
 */
export function maskIdNumber(value: string): string {
  const m = ID_RE.exec(value.trim());
  if (!m) return redactText(value);
  const last4 = value.trim().slice(-4);
  return `${m[1]}********${last4}`;
}

/**
 * Chinese names keep the surname's first character: `张三丰` → `张**` (one `*` per hidden character).
 * Latin names keep the first letter of each word: `Ada Lovelace` → `A** L*******`.
 */
export function maskName(value: string): string {
  const v = value.trim();
  if (v === '') return v;
  const chars = [...v];
  if (HAN_RE.test(v)) return `${chars[0]}${'*'.repeat(chars.length - 1)}`;
  return v
    .split(/(\s+)/)
    .map((w) => (/^\s+$/.test(w) || w === '' ? w : `${[...w][0]}${'*'.repeat([...w].length - 1)}`))
    .join('');
}

/** Free text: the first character then one `*` per further character, at most 8. */
export function redactText(value: string): string {
  const chars = [...value];
  if (chars.length <= 1) return '*';
  return `${chars[0]}${'*'.repeat(Math.min(chars.length - 1, 8))}`;
}

/** Decimal places kept by {@link coarsenGeometry}: 2 places is a cell of about 1.1 km. */
export const COARSE_DECIMALS = 2;

/**
 * Coarsens a GeoJSON geometry by rounding every coordinate to `decimals` places (default 2,
 * about 1.1 km): precise location is sensitive personal information (GB/T 35273 Annex B).
 * Returns a new object; anything that is not a geometry comes back as null.
 */
export function coarsenGeometry(geometry: unknown, decimals = COARSE_DECIMALS): unknown {
  if (typeof geometry !== 'object' || geometry === null || Array.isArray(geometry)) return null;
  const g = geometry as Record<string, unknown>;
  const f = 10 ** decimals;
  const round = (c: unknown): unknown =>
    Array.isArray(c) ? c.map(round) : typeof c === 'number' ? Math.round(c * f) / f : c;
  if (g.type === 'GeometryCollection' && Array.isArray(g.geometries)) {
    return { type: g.type, geometries: g.geometries.map((x) => coarsenGeometry(x, decimals)) };
  }
  if (typeof g.type !== 'string' || !Array.isArray(g.coordinates)) return null;
  return { type: g.type, coordinates: round(g.coordinates) };
}

/**
 * Masks one JSON value of a tagged attribute by `kind`. `auto` recognises mobile numbers,
 * identity numbers, Chinese names and GeoJSON geometries, and redacts other strings; numbers and
 * booleans become null (a number cannot be shown partly). Arrays and objects are masked member by
 * member, except a geometry, which is coarsened.
 */
export function maskValue(value: unknown, kind: MaskKind = 'auto'): unknown {
  if (kind === 'none' || value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map((v) => maskValue(v, kind));
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.type === 'string' && ('coordinates' in o || 'geometries' in o)) return coarsenGeometry(o);
    if (kind === 'location') return null;
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, maskValue(v, kind)]));
  }
  if (typeof value !== 'string')
    return kind === 'location' && typeof value === 'number' ? round2(value) : null;
  switch (kind) {
    case 'mobile':
      return maskMobile(value);
    case 'id-number':
      return maskIdNumber(value);
    case 'name':
      return maskName(value);
    case 'location':
    case 'redact':
      return redactText(value);
    case 'auto': {
      const compact = value.replace(/[\s-]/g, '');
      if (MOBILE_RE.test(compact)) return maskMobile(compact);
      if (ID_RE.test(value.trim())) return maskIdNumber(value);
      if (HAN_RE.test(value.trim()) && [...value.trim()].length <= 4) return maskName(value);
      return redactText(value);
    }
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * Checks the GB 11643 check character of an 18-character identity number (ISO 7064 MOD 11-2):
 * weights 2^(17-i) mod 11, the check character is (12 - sum mod 11) mod 11, 10 written X.
 */
export function isValidIdNumber(id: string): boolean {
  if (!ID_RE.test(id)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * (2 ** (17 - i) % 11);
  const check = (12 - (sum % 11)) % 11;
  const expected = check === 10 ? 'X' : String(check);
  return id[17]?.toUpperCase() === expected;
}
