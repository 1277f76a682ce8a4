/**
 * The URLs of the ETSI NGSI-LD core @context. Every published version resolves to the one core
 * context bundled with the hub (v1.9, a superset of the earlier terms), never to a network fetch:
 * NGSI-LD §5.5.7 makes the core context implicit in every request, so its URL is a name, not a
 * download. The document itself is handed in by the caller, which keeps `core/` free of I/O.
 */

/** The core context URL our responses carry in Link headers (GS CIM 009 v1.8, as used by the API layer). */
export const CORE_CONTEXT_URL = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld';

/** The NGSI-LD default vocabulary: terms no @context defines expand to this prefix + term (NGSI-LD §5.5.7). */
export const DEFAULT_VOCAB = 'https://uri.etsi.org/ngsi-ld/default-context/';

/** The namespace of NGSI-LD core terms (`ngsi-ld:` in the core context). */
export const NGSI_LD_NS = 'https://uri.etsi.org/ngsi-ld/';

// `…/v1/ngsi-ld-core-context.jsonld` and `…-v1.N.jsonld` / `…-v1.N.M.jsonld` (v1.3.1 etc.), http or https.
const VERSIONED_RE =
  /^https?:\/\/uri\.etsi\.org\/ngsi-ld\/v1\/ngsi-ld-core-context(?:-v1\.\d(?:\.\d+)?)?\.jsonld$/;

// Pre-v1.3 drafts and early brokers pointed at the ETSI Forge repository.
const LEGACY_URLS: ReadonlySet<string> = new Set([
  'https://forge.etsi.org/gitlab/NGSI-LD/NGSI-LD/raw/master/coreContext/ngsi-ld-core-context.jsonld',
  'https://forge.etsi.org/rep/NGSI-LD/NGSI-LD/raw/master/coreContext/ngsi-ld-core-context.jsonld',
]);

/**
 * True if `url` names the NGSI-LD core context: `http(s)://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld`,
 * any `…-v1.N.jsonld` (N = 0..9) or patch version `…-v1.N.M.jsonld`, or one of the legacy ETSI Forge URLs.
 * The comparison is exact (no trailing slash, query or fragment).
 */
export function isCoreContextUrl(url: string): boolean {
  return VERSIONED_RE.test(url) || LEGACY_URLS.has(url);
}

/** The canonical https core context URLs (unversioned and v1.0 to v1.9), e.g. for listings and tests. */
export const CORE_CONTEXT_URLS: readonly string[] = [
  'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld',
  ...Array.from(
    { length: 10 },
    (_, n) => `https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.${n}.jsonld`,
  ),
];
