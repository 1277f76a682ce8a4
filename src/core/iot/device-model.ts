/**
 * The device registry's model, in the shapes of the FIWARE IoT Agent provisioning API (config
 * groups under /iot/services, devices under /iot/devices), and the checks a provisioning request
 * passes before anything is stored. Field names stay the IoT Agent's (snake_case), so that
 * existing provisioning scripts work unchanged.
 */
import { badRequest } from '../errors.js';
import { isPlainObject } from '../validation.js';
import { ExpressionError, compileExpression } from './iot-expression.js';

/** What is done with a reading that fails its Smart Data Models schema. */
export const VALIDATION_MODES = ['off', 'reject', 'quarantine'] as const;
export type ValidationMode = (typeof VALIDATION_MODES)[number];

/** One attribute mapping: measure `object_id` → entity attribute `name` of a `type`. */
export interface AttributeMapping {
  object_id?: string;
  name: string;
  type: string;
  expression?: string;
  skipValue?: unknown;
  metadata?: Record<string, unknown>;
}

export interface StaticAttribute {
  name: string;
  type: string;
  value: unknown;
  metadata?: Record<string, unknown>;
}

export interface CommandMapping {
  name: string;
  type: string;
  expression?: string;
}

/** Mapping fields a config group and a device both have; a device's own win. */
export interface MappingFields {
  entity_type?: string;
  attributes?: AttributeMapping[];
  lazy?: AttributeMapping[];
  static_attributes?: StaticAttribute[];
  commands?: CommandMapping[];
  explicitAttrs?: boolean;
  timestamp?: boolean;
  /** CityPivot: seconds between readings after which the device counts as offline. */
  expected_interval?: number;
  /** CityPivot: check readings against the Smart Data Models schema of the entity type. */
  schema_validation?: ValidationMode;
  /** CityPivot: seconds a command may stay PENDING/DELIVERED before it is EXPIRED; default 30. */
  command_timeout?: number;
}

/** A config group (service group): identified by (apikey, resource) within a service. */
export interface ServiceGroup extends MappingFields {
  service: string;
  subservice: string;
  apikey: string;
  resource: string;
  autoprovision?: boolean;
  /** The attribute mappings as received, kept for listing. */
  entityNameExp?: string;
  defaultEntityNameConjunction?: string;
  transport?: string;
  internal_attributes?: unknown;
  /**
   * CityPivot, set by the hub: the department of the account that provisioned the group; its
   * devices write with that department's rights (authentication on).
   */
  department?: string;
}

export interface Device extends MappingFields {
  device_id: string;
  service: string;
  service_path: string;
  entity_name: string;
  entity_type: string;
  apikey?: string;
  protocol?: string;
  transport?: string;
  /** Payload format for commands: "json" or "ul" (Ultralight); default from the transport seen first. */
  payload_format?: PayloadFormat;
  internal_attributes?: unknown;
  /** CityPivot, read only: the device has MQTT credentials (the secret itself is never shown). */
  password_set?: boolean;
  /** CityPivot, set by the hub: the department that provisioned it (its group's, when it has one). */
  department?: string;
}

export const PAYLOAD_FORMATS = ['json', 'ul'] as const;
export type PayloadFormat = (typeof PAYLOAD_FORMATS)[number];

const NAME_RE = /^[^\s<>"'=;()]{1,256}$/;
const ID_RE = /^[A-Za-z0-9_.:@-]{1,256}$/;
const SERVICEPATH_RE = /^\/([A-Za-z0-9_-]{1,50}(\/[A-Za-z0-9_-]{1,50})*)?$/;
const RESERVED = new Set(['id', 'type']);

/** The servicepath of a request: `/` when absent; `/*` only where listing allows it. */
export function parseServicePath(raw: string | undefined, allowWildcard = false): string {
  if (raw === undefined || raw === '') return '/';
  if (allowWildcard && raw === '/*') return '/*';
  if (!SERVICEPATH_RE.test(raw))
    throw badRequest(
      `Invalid fiware-servicepath ${JSON.stringify(raw)}: absolute path of letters, digits, - and _`,
    );
  return raw;
}

function str(o: Record<string, unknown>, key: string, where: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw badRequest(`${where}: ${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v === '') throw badRequest(`${where}: ${key} must be a non-empty string`);
  return v;
}

function positive(o: Record<string, unknown>, key: string, where: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw badRequest(`${where}: ${key} must be a positive number of seconds`);
  return v;
}

function bool(o: Record<string, unknown>, key: string, where: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw badRequest(`${where}: ${key} must be true or false`);
}

function metadata(v: unknown, where: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v)) throw badRequest(`${where}: metadata must be an object`);
  return v;
}

function attrName(v: unknown, where: string): string {
  if (typeof v !== 'string' || !NAME_RE.test(v)) throw badRequest(`${where}: name must be an attribute name`);
  if (RESERVED.has(v)) throw badRequest(`${where}: ${v} cannot be an attribute name`);
  return v;
}

function attrType(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') throw badRequest(`${where}: type is required`);
  return v;
}

function list(o: Record<string, unknown>, key: string, where: string): Record<string, unknown>[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every(isPlainObject))
    throw badRequest(`${where}: ${key} must be an array of objects`);
  return v;
}

function attributes(
  raw: Record<string, unknown>[] | undefined,
  where: string,
): AttributeMapping[] | undefined {
  if (!raw) return undefined;
  const seen = new Set<string>();
  return raw.map((a, i) => {
    const w = `${where}[${i}]`;
    const m: AttributeMapping = { name: attrName(a.name, w), type: attrType(a.type, w) };
    if (a.object_id !== undefined) {
      if (typeof a.object_id !== 'string' || !ID_RE.test(a.object_id))
        throw badRequest(`${w}: object_id must be a measure name`);
      m.object_id = a.object_id;
    }
    const key = m.object_id ?? m.name;
    if (seen.has(key)) throw badRequest(`${w}: the measure ${key} is mapped twice`);
    seen.add(key);
    if (a.expression !== undefined) m.expression = checkedExpression(a.expression, w);
    if (a.skipValue !== undefined) m.skipValue = a.skipValue;
    const md = metadata(a.metadata, w);
    if (md) m.metadata = md;
    return m;
  });
}

function checkedExpression(v: unknown, where: string): string {
  if (typeof v !== 'string') throw badRequest(`${where}: expression must be a string`);
  try {
    compileExpression(v);
  } catch (err) {
    if (err instanceof ExpressionError) throw badRequest(`${where}: ${err.message}`);
    throw err;
  }
  return v;
}

function mappingFields(o: Record<string, unknown>, where: string): MappingFields {
  const out: MappingFields = {};
  const et = str(o, 'entity_type', where, false) ?? str(o, 'type', where, false);
  if (et !== undefined) out.entity_type = et;
  const attrs = attributes(list(o, 'attributes', where), `${where}.attributes`);
  if (attrs) out.attributes = attrs;
  const lazy = attributes(list(o, 'lazy', where), `${where}.lazy`);
  if (lazy) out.lazy = lazy;
  const stat = list(o, 'static_attributes', where);
  if (stat)
    out.static_attributes = stat.map((a, i) => {
      const w = `${where}.static_attributes[${i}]`;
      if (a.value === undefined) throw badRequest(`${w}: value is required`);
      const s: StaticAttribute = { name: attrName(a.name, w), type: attrType(a.type, w), value: a.value };
      const md = metadata(a.metadata, w);
      if (md) s.metadata = md;
      return s;
    });
  const cmds = list(o, 'commands', where);
  if (cmds)
    out.commands = cmds.map((c, i) => {
      const w = `${where}.commands[${i}]`;
      const m: CommandMapping = {
        name: attrName(c.name, w),
        type: typeof c.type === 'string' ? c.type : 'command',
      };
      if (c.expression !== undefined) m.expression = checkedExpression(c.expression, w);
      return m;
    });
  const explicit = o.explicitAttrs;
  if (explicit !== undefined && explicit !== null) {
    // The IoT Agent also takes JEXL arrays here; CityPivot takes the boolean form only.
    if (typeof explicit !== 'boolean') throw badRequest(`${where}: explicitAttrs must be true or false`);
    out.explicitAttrs = explicit;
  }
  const ts = bool(o, 'timestamp', where);
  if (ts !== undefined) out.timestamp = ts;
  const ei = positive(o, 'expected_interval', where);
  if (ei !== undefined) out.expected_interval = ei;
  const ct = positive(o, 'command_timeout', where);
  if (ct !== undefined) out.command_timeout = ct;
  const sv = o.schema_validation;
  if (sv !== undefined && sv !== null) {
    if (!(VALIDATION_MODES as readonly unknown[]).includes(sv))
      throw badRequest(`${where}: schema_validation must be one of ${VALIDATION_MODES.join(', ')}`);
    out.schema_validation = sv as ValidationMode;
  }
  return out;
}

/**
 * Checks one config group of a POST /iot/services body. `apikey` and `resource` are required
 * (IoT Agent WRONG_SYNTAX otherwise); service and subservice come from the headers.
 */
export function parseServiceGroup(raw: unknown, service: string, subservice: string, i = 0): ServiceGroup {
  const where = `services[${i}]`;
  if (!isPlainObject(raw)) throw badRequest(`${where} must be an object`);
  const apikey = str(raw, 'apikey', where, true) as string;
  if (!ID_RE.test(apikey)) throw badRequest(`${where}: apikey may hold letters, digits and _.:@- only`);
  const resource = str(raw, 'resource', where, true) as string;
  if (!resource.startsWith('/')) throw badRequest(`${where}: resource must be a path starting with /`);
  const g: ServiceGroup = { ...mappingFields(raw, where), service, subservice, apikey, resource };
  const ap = bool(raw, 'autoprovision', where);
  if (ap !== undefined) g.autoprovision = ap;
  for (const key of ['entityNameExp', 'defaultEntityNameConjunction', 'transport'] as const) {
    const v = str(raw, key, where, false);
    if (v !== undefined) g[key] = v;
  }
  if (raw.internal_attributes !== undefined) g.internal_attributes = raw.internal_attributes;
  return g;
}

/** Partial update of a config group (PUT /iot/services): the fields present replace the stored ones. */
export function mergeServiceGroup(held: ServiceGroup, raw: unknown): ServiceGroup {
  if (!isPlainObject(raw)) throw badRequest('The body must be a JSON object');
  const next = parseServiceGroup(
    { ...held, ...raw, apikey: raw.apikey ?? held.apikey, resource: raw.resource ?? held.resource },
    held.service,
    held.subservice,
  );
  return next;
}

/**
 * Checks one device of a POST /iot/devices body. The entity name defaults to
 * `urn:ngsi-ld:{entity_type}:{device_id}` and the type to the group's, then to `Device`.
 */
export function parseDevice(
  raw: unknown,
  service: string,
  servicePath: string,
  i = 0,
  group?: ServiceGroup,
): Device {
  const where = `devices[${i}]`;
  if (!isPlainObject(raw)) throw badRequest(`${where} must be an object`);
  const deviceId = str(raw, 'device_id', where, true) as string;
  if (!ID_RE.test(deviceId)) throw badRequest(`${where}: device_id may hold letters, digits and _.:@- only`);
  const fields = mappingFields(raw, where);
  const entityType = fields.entity_type ?? group?.entity_type ?? 'Device';
  const entityName = str(raw, 'entity_name', where, false) ?? defaultEntityName(entityType, deviceId);
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(entityName))
    throw badRequest(
      `${where}: entity_name ${JSON.stringify(entityName)} is not a URI (NGSI-LD entity ids are URIs)`,
    );
  const d: Device = {
    ...fields,
    device_id: deviceId,
    service,
    service_path: servicePath,
    entity_name: entityName,
    entity_type: entityType,
  };
  for (const key of ['apikey', 'protocol', 'transport'] as const) {
    const v = str(raw, key, where, false);
    if (v !== undefined) d[key] = v;
  }
  const pf = raw.payload_format;
  if (pf !== undefined && pf !== null) {
    if (!(PAYLOAD_FORMATS as readonly unknown[]).includes(pf))
      throw badRequest(`${where}: payload_format must be json or ul`);
    d.payload_format = pf as PayloadFormat;
  } else if (typeof d.protocol === 'string' && /ul|ultralight/i.test(d.protocol)) d.payload_format = 'ul';
  if (raw.internal_attributes !== undefined) d.internal_attributes = raw.internal_attributes;
  return d;
}

/** Partial update of a device (PUT /iot/devices/{id}): id, entity name and type cannot change. */
export function mergeDevice(held: Device, raw: unknown): Device {
  if (!isPlainObject(raw)) throw badRequest('The body must be a JSON object');
  for (const key of ['device_id', 'entity_name', 'entity_type'] as const) {
    if (raw[key] !== undefined && raw[key] !== held[key])
      throw badRequest(`${key} of a provisioned device cannot be changed`);
  }
  return parseDevice({ ...held, ...raw }, held.service, held.service_path);
}

/** The entity id of a device without entity_name: `urn:ngsi-ld:{type}:{device_id}`. */
export function defaultEntityName(entityType: string, deviceId: string): string {
  return `urn:ngsi-ld:${entityType}:${deviceId}`;
}

/** The mapping a reading is processed with: the device's fields over its group's. */
export interface EffectiveMapping extends Required<
  Pick<MappingFields, 'attributes' | 'static_attributes' | 'commands'>
> {
  entity_type: string;
  explicitAttrs: boolean;
  timestamp: boolean;
  expected_interval?: number;
  schema_validation: ValidationMode;
  command_timeout: number;
}

/** Merges a device over its group (IoT Agent: device-level fields take precedence). */
export function effectiveMapping(device: Device, group?: ServiceGroup): EffectiveMapping {
  const byKey = <T extends { name: string; object_id?: string }>(g: T[] = [], d: T[] = []): T[] => {
    const key = (x: T) => x.object_id ?? x.name;
    const own = new Set(d.map(key));
    return [...g.filter((x) => !own.has(key(x))), ...d];
  };
  const m: EffectiveMapping = {
    entity_type: device.entity_type,
    attributes: byKey(group?.attributes, device.attributes),
    static_attributes: byKey(group?.static_attributes, device.static_attributes),
    commands: byKey(group?.commands, device.commands),
    explicitAttrs: device.explicitAttrs ?? group?.explicitAttrs ?? false,
    timestamp: device.timestamp ?? group?.timestamp ?? false,
    schema_validation: device.schema_validation ?? group?.schema_validation ?? 'off',
    command_timeout: device.command_timeout ?? group?.command_timeout ?? 30,
  };
  const ei = device.expected_interval ?? group?.expected_interval;
  if (ei !== undefined) m.expected_interval = ei;
  return m;
}
