/**
 * One spelling of every request path, made once before routing (Fastify's rewriteUrl): the
 * router, the access layer, the audit and the handlers all see the same URL. RFC 3986 §6.2.2:
 * percent-encoded unreserved characters (letters, digits, `-._~`) are the characters themselves,
 * so they are decoded; other percent-encodings stay (an encoded `/` in an entity id is data, not
 * a separator), with upper-case hex digits. Runs of slashes fold into one. The case of letters is
 * kept: routes are case-sensitive, so `/NGSI-LD/…` is simply not found.
 */

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** The canonical form of a request target (path and query); the query is left as it is. */
export function canonicalUrl(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q);
  const canon = path.replace(/\/{2,}/g, '/').replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
  });
  return canon + query;
}

/**
 * A header value as it may go on the wire: characters outside printable ASCII (an entity id with
 * `😀` or `é` in a Location) percent-encoded as UTF-8, control characters too. Node refuses
 * anything outside Latin-1 when the headers are written, after the write was done.
 */
export function safeHeaderValue(value: string): string {
  if (!/[^\x20-\x7e\t]/.test(value)) return value;

  return value.replace(/[^\x20-\x7e\t]/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return '%EF%BF%BD'; // a lone surrogate: U+FFFD
    }
  });
}
