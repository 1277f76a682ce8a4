/**
 * Small validators shared by the entity model and the API (NGSI-LD §4.6.2 identifiers,
 * §4.6.3 attribute names, §4.6.4 DateTime).
 */

const URI_RE = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"{}|\\^`]+$/;

/** NGSI-LD §4.6.2: entity ids, datasetIds and relationship targets are URIs. */
export function isUri(s: unknown): s is string {
  return typeof s === 'string' && s.length <= 2048 && URI_RE.test(s);
}

// Characters that the query language or the URL syntax give a meaning to (NGSI-LD §4.6.3 and §4.9).
const FORBIDDEN_NAME_CHARS = /[\s<>"'=;()[\]{}|\\^`&?#%]/;

/**
 * NGSI-LD §4.6.3: a term (attribute name or entity type) without query-language characters, or
 * an absolute IRI (which may hold '#', as in https://w3id.org/saref#Device). JSON-LD keywords
 * (@id, @type, …) are never names.
 */
export function isValidName(s: unknown): s is string {
  if (typeof s !== 'string' || s.length === 0 || s.length > 512 || s.startsWith('@')) return false;
  if (!FORBIDDEN_NAME_CHARS.test(s)) return true;
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s<>"{}|\\^`]+$/.test(s) && !/[()'"<>;=]/.test(s);
}

const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** An ISO 8601 date-time with a zone, as NGSI-LD §4.6.4 requires for observedAt and friends. */
export function isDateTime(s: unknown): s is string {
  if (typeof s !== 'string' || !DATETIME_RE.test(s) || Number.isNaN(Date.parse(s))) return false;
  // Date.parse rolls 2026-02-30 over to March: the calendar date must exist as written.
  const [y, m, d] = s.slice(0, 10).split('-').map(Number) as [number, number, number];
  const hh = Number(s.slice(11, 13));
  const mm = Number(s.slice(14, 16));
  const day = new Date(Date.UTC(y, m - 1, d));
  return (
    day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d && hh < 24 && mm < 60
  );
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
