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

  // An entity of several types is read under the rules of each of them: a policy on one of its
  // types says nothing about the others (a Person that is also a TrafficFlowObserved stays a Person).
  const typeMatch = (ty: string, p: AccessPolicy) =>
    p.entityTypes.includes('*') || p.entityTypes.includes(ty);
  interface Rules {
    policies: AccessPolicy[];
    grants: AccessGrant[];
  }
  /** The rules of each type of an entity (undefined: some type has none, so the entity is not readable). */
  const rulesPerType = (
    types: string[],
    inside: (area: Area | undefined) => boolean,
  ): Rules[] | undefined => {
    const out: Rules[] = [];
    for (const ty of types) {
      const r = {
        policies: policies.filter((p) => typeMatch(ty, p) && inside(p.area)),
        grants: grants.filter((g) => g.entityType === ty && inside(g.area)),
      };
      if (r.policies.length === 0 && r.grants.length === 0) return undefined;
      out.push(r);
    }
    return out.length > 0 ? out : undefined;
  };
  const rulesFor = (e: StoredEntity) => rulesPerType(e.types, (area) => inArea(e, area));
  const tagOf = (types: string[], attr: string) =>
    catalog.find((c) => c.attr === attr && types.includes(c.entityType));

  const attrVisible = (perType: Rules[], attr: string): boolean =>
    perType.every(
      (r) =>
        r.policies.some((p) => p.attrs === undefined || p.attrs.includes(attr)) ||
        r.grants.some((g) => g.attrs === undefined || g.attrs.includes(attr)),
    );

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
      return rulesFor(e) !== undefined;
    },
    project(e) {
      const perType = rulesFor(e);
      if (!perType) return { ...e, attrs: {} };
      for (const r of perType)
        if (r.policies.length === 0) for (const g of r.grants) report.grantsUsed.add(g.id);
      const entityGrants = perType.flatMap((r) => r.grants);
      const attrs: Record<string, StoredAttribute[]> = {};
      for (const [iri, list] of Object.entries(e.attrs)) {
        if (!attrVisible(perType, iri)) continue;
        attrs[iri] = list.map((inst) => maskOne(e.types, iri, inst, entityGrants));
      }
      return { ...e, attrs };
    },
    attrReadable(types, attr) {
      const perType = rulesPerType(types, () => true);
      return perType !== undefined && attrVisible(perType, attr);
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
 * May the department write this change? `types` are every type the entity has before and after
 * the change: the department needs a write policy for each of them (changing a Person's type to
 * one it may write is a write on a Person). `attrs` are the attribute IRIs the write touches, each
 * covered for every type; the area is checked on the entity as it is before and after (moving an
 * entity out of the area is a write outside it). Grants never give write access.
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
      (!entity.before || inArea(entity.before, p.area)) &&
      (!entity.after || inArea(entity.after, p.area)),
  );
  if (entity.types.length === 0) return false;
  return entity.types.every((ty) => {
    const forType = rules.filter((p) => p.entityTypes.includes('*') || p.entityTypes.includes(ty));
    return (
      forType.length > 0 &&
      attrs.every((a) => forType.some((p) => p.attrs === undefined || p.attrs.includes(a)))
    );
  });
}

/** Every type an entity has before or after a change. */
export function typesOfChange(before: StoredEntity | undefined, after: StoredEntity | undefined): string[] {
  return [...new Set([...(before?.types ?? []), ...(after?.types ?? [])])];
}

/** The attributes a change touches (added, changed or removed); all of them for a create or a delete. */
export function changedAttributes(
  before: StoredEntity | undefined,
  after: StoredEntity | undefined,
): string[] {
  const b = before?.attrs ?? {};
  const a = after?.attrs ?? {};
  const out: string[] = [];
  for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (!before || !after || JSON.stringify(b[k]) !== JSON.stringify(a[k])) out.push(k);
  }
  return out;
}

/**
 * May the department share (publish as a dataset) these attributes of this type? Only what it
 * owns: a write policy on the type, without an area (a dataset of the whole type would reach
 * beyond it), covering each attribute (every attribute when `attrs` is undefined).
 */
export function canShare(
  policies: AccessPolicy[],
  tenant: string,
  entityType: string,
  attrs: string[] | undefined,
): boolean {
  const own = policies.filter(
    (p) =>
      p.actions.includes('write') &&
      p.area === undefined &&
      (p.tenant === '*' || p.tenant === tenant) &&
      (p.entityTypes.includes('*') || p.entityTypes.includes(entityType)),
  );
  if (attrs === undefined) return own.some((p) => p.attrs === undefined);
  return attrs.every((a) => own.some((p) => p.attrs === undefined || p.attrs.includes(a)));
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
