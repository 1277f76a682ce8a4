/**
 * The access decision for one principal's department on one tenant: which entities it may read or
 * write, which attributes it sees, and which values it sees masked. Pure: policies, grants and the
 * catalog go in, functions come out; the access layer loads them and the lead's subscription and
 * live-stream code calls the same functions.
 */
import type { StoredAttribute, StoredEntity } from '../entity-model.js';
import { VALUE_MEMBER } from '../entity-model.js';
import { matchesGeoQuery } from '../geo/geometry.js';
import type { GeoJsonGeometry, SimpleGeometry } from '../geo/geo-query.js';
import type { AccessGrant, AccessPolicy, Action, Area, CatalogEntry } from './access-model.js';
import { MASKED_CLASSES } from './access-model.js';
import { maskValue } from './masking.js';

export const LOCATION_IRI = 'https://uri.etsi.org/ngsi-ld/location';

/** What one read showed of tagged data: for the audit log and the sharing ledger. */
export interface ReadReport {
  /** Tagged attribute IRIs present in what was returned. */
  tagged: Set<string>;
  /** Some were shown unmasked (under a grant for the stated purpose). */
  unmasked: boolean;
  /** Grants that let an entity through. */
  grantsUsed: Set<string>;
}

export interface ReadFilter {
  /** The department may read something of this tenant. */
  readonly tenantReadable: boolean;
  /** Types it may read ('*' for all): narrows queries before they run. */
  readonly readableTypes: '*' | string[];
  /** May it see this entity at all (type, area, policy or grant)? */
  allows(entity: StoredEntity): boolean;
  /** The entity as this principal may see it: unreadable attributes dropped, tagged values masked. */
  project(entity: StoredEntity): StoredEntity;
  /** May it see this attribute of an entity of these types? (discovery, temporal) */
  attrReadable(types: string[], attr: string): boolean;
  /**
   * May it filter or sort on this attribute of entities of these types (q, orderBy, geo)? Only
   * when it may read the attribute and does not see it masked: a filter on a masked value would
   * reveal it (`q=mobile=="13812345678"`), one on an unreadable attribute would reveal that too.
   */
  attrFilterable(types: string[], attr: string): boolean;
  /** The entity types whose values of this attribute it sees masked. */
  maskedTypes(attr: string): string[];
  /** Masks one stored attribute instance of an entity of these types, if tagged (temporal values). */
  maskInstance(types: string[], attr: string, inst: StoredAttribute): StoredAttribute;
  /** What the projections so far showed of tagged data. */
  readonly report: ReadReport;
}

export interface AccessInputs {
  tenant: string;
  /** The department's policies (with those of its sub-departments). */
  policies: AccessPolicy[];
  /** Grants of the department; expired ones are ignored. */
  grants: AccessGrant[];
  catalog: CatalogEntry[];
  /** The purpose the request states (CityPivot-Purpose header). */
  purpose?: string;
  now: Date;
}

/** Builds the read decision of a department for one tenant (see {@link ReadFilter}). */
export function buildReadFilter(inp: AccessInputs): ReadFilter {
  const t = inp.now.getTime();
  const policies = inp.policies.filter(
    (p) => p.actions.includes('read') && (p.tenant === '*' || p.tenant === inp.tenant),
  );
  const grants = inp.grants.filter(
    (g) => g.tenant === inp.tenant && Date.parse(g.validFrom) <= t && t < Date.parse(g.validUntil),
  );
  const catalog = inp.catalog.filter((c) => c.tenant === '*' || c.tenant === inp.tenant);
  const report: ReadReport = { tagged: new Set(), unmasked: false, grantsUsed: new Set() };

  const readableTypes: '*' | string[] = policies.some((p) => p.entityTypes.includes('*'))
    ? '*'
    : [...new Set([...policies.flatMap((p) => p.entityTypes), ...grants.map((g) => g.entityType)])];

  const typeMatch = (types: string[], p: AccessPolicy) =>
    p.entityTypes.includes('*') || types.some((ty) => p.entityTypes.includes(ty));
  const rulesFor = (e: StoredEntity) => ({
    policies: policies.filter((p) => typeMatch(e.types, p) && inArea(e, p.area)),
    grants: grants.filter((g) => e.types.includes(g.entityType) && inArea(e, g.area)),
  });
  const tagOf = (types: string[], attr: string) =>
    catalog.find((c) => c.attr === attr && types.includes(c.entityType));

  const attrVisible = (r: { policies: AccessPolicy[]; grants: AccessGrant[] }, attr: string): boolean =>
    r.policies.some((p) => p.attrs === undefined || p.attrs.includes(attr)) ||
    r.grants.some((g) => g.attrs === undefined || g.attrs.includes(attr));

  const unmaskedBy = (types: string[], attr: string, gs: AccessGrant[]) =>
    inp.purpose !== undefined &&
    gs.some(
      (g) =>
        g.purpose === inp.purpose &&
        types.includes(g.entityType) &&
        (g.attrs === undefined || g.attrs.includes(attr)),
    );

  const maskOne = (types: string[], attr: string, inst: StoredAttribute, gs: AccessGrant[]) => {
    const tag = tagOf(types, attr);
    if (!tag || !MASKED_CLASSES.includes(tag.sensitivity)) return inst;
    report.tagged.add(attr);
    if (unmaskedBy(types, attr, gs)) {
      report.unmasked = true;
      return inst;
    }
    return maskStoredInstance(inst, tag.mask);
  };

  return {
    tenantReadable: policies.length > 0 || grants.length > 0,
    readableTypes,
    report,
    allows(e) {
      const r = rulesFor(e);
      return r.policies.length > 0 || r.grants.length > 0;
    },
    project(e) {
      const r = rulesFor(e);
      if (r.policies.length === 0) for (const g of r.grants) report.grantsUsed.add(g.id);
      const attrs: Record<string, StoredAttribute[]> = {};
      for (const [iri, list] of Object.entries(e.attrs)) {
        if (!attrVisible(r, iri)) continue;
        attrs[iri] = list.map((inst) => maskOne(e.types, iri, inst, r.grants));
      }
      return { ...e, attrs };
    },
    attrReadable(types, attr) {
      return (
        policies.some((p) => typeMatch(types, p) && (p.attrs === undefined || p.attrs.includes(attr))) ||
        grants.some((g) => types.includes(g.entityType) && (g.attrs === undefined || g.attrs.includes(attr)))
      );
    },
    attrFilterable(types, attr) {
      if (!this.attrReadable(types, attr)) return false;
      const tag = tagOf(types, attr);
      if (!tag || !MASKED_CLASSES.includes(tag.sensitivity)) return true;
      return unmaskedBy(types, attr, grants);
    },
    maskedTypes(attr) {
      return catalog
        .filter(
          (c) =>
            c.attr === attr &&
            MASKED_CLASSES.includes(c.sensitivity) &&
            !unmaskedBy([c.entityType], attr, grants),
        )
        .map((c) => c.entityType);
    },
    maskInstance(types, attr, inst) {
      return maskOne(
        types,
        attr,
        inst,
        grants.filter((g) => types.includes(g.entityType)),
      );
    },
  };
}

/**
 * May the department write this change? `attrs` are the attribute IRIs the write touches; the
 * area is checked on the entity as it is before and after (moving an entity out of the area is a
 * write outside it). Grants never give write access.
 */
export function canWrite(
  policies: AccessPolicy[],
  tenant: string,
  entity: { types: string[]; before?: StoredEntity; after?: StoredEntity },
  attrs: string[],
): boolean {
  const rules = policies.filter(
    (p) =>
      p.actions.includes('write' satisfies Action) &&
      (p.tenant === '*' || p.tenant === tenant) &&
      (p.entityTypes.includes('*') || entity.types.some((ty) => p.entityTypes.includes(ty))) &&
      (!entity.before || inArea(entity.before, p.area)) &&
      (!entity.after || inArea(entity.after, p.area)),
  );
  return (
    attrs.every((a) => rules.some((p) => p.attrs === undefined || p.attrs.includes(a))) && rules.length > 0
  );
}

/** May the department write anything in this tenant? (IoT provisioning, exports of its own data) */
export function canWriteTenant(policies: AccessPolicy[], tenant: string): boolean {
  return policies.some((p) => p.actions.includes('write') && (p.tenant === '*' || p.tenant === tenant));
}

/** Is the entity's location inside the area? No area: yes. No location: no. */
export function inArea(e: StoredEntity, area: Area | undefined): boolean {
  if (!area) return true;
  const loc = e.attrs[LOCATION_IRI]?.[0]?.value;
  if (typeof loc !== 'object' || loc === null) return false;
  try {
    return matchesGeoQuery(
      { georel: 'intersects', geometry: areaGeometry(area), geoproperty: 'location' },
      loc as GeoJsonGeometry,
    );
  } catch {
    return false;
  }
}

/** An area as a GeoJSON geometry (a bbox becomes its rectangle). */
export function areaGeometry(area: Area): SimpleGeometry {
  if ('bbox' in area) {
    const [w, s, e, n] = area.bbox;
    return {
      type: 'Polygon',
      coordinates: [
        [
          [w, s],
          [e, s],
          [e, n],
          [w, n],
          [w, s],
        ],
      ],
    };
  }
  return area as SimpleGeometry;
}

/** A stored instance with its value member masked; metadata and sub-attributes kept. */
export function maskStoredInstance(inst: StoredAttribute, kind: CatalogEntry['mask']): StoredAttribute {
  const member = VALUE_MEMBER[inst.type];
  const out: StoredAttribute = { ...inst, [member]: maskValue(inst[member], kind) };
  delete out.languageValues;
  return out;
}
