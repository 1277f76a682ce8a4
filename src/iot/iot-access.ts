/**
 * The IoT edge's rules of access, built on the access module's port (core/access/access-port.ts):
 * who may provision and see devices, with whose rights devices write (iot-authority.ts), and who
 * may use the embedded MQTT broker (mqtt-gateway.ts). Without authentication there is no port,
 * and neither authority is made.
 */
import type { AccessPort, RequestAccess } from '../core/access/access-port.js';
import type { Principal } from '../core/access/access-model.js';
import { canWrite, canWriteTenant } from '../core/access/read-filter.js';
import type { StoredEntity } from '../core/entity-model.js';
import { HubError } from '../core/errors.js';
import type { IotAuthority } from './iot-authority.js';
import type { MqttAuthority, MqttPrincipal } from './mqtt-gateway.js';

/** How long a department's rights, loaded for its devices, are used before they are loaded again. */
const OWNER_ACCESS_MS = 30_000;

/**
 * Provisioning is a write on the entity type and on an existing entity (read with `readEntity`,
 * unfiltered); what a department owns, it and the departments above it manage; devices write with
 * their owner's rights, loaded again every 30 s so that a changed policy holds for readings too.
 */
export function iotAuthority(
  access: AccessPort,
  readEntity: (tenant: string, id: string) => Promise<StoredEntity | undefined>,
): IotAuthority {
  const owners = new Map<string, { access: RequestAccess; until: number }>();
  const ownerAccess = (department: string): RequestAccess => {
    const t = Date.now();
    const held = owners.get(department);
    if (held && held.until > t) return held.access;
    const a = access.accessOf({
      kind: 'devices',
      id: `devices:${department}`,
      name: `devices of ${department}`,
      department,
      roles: [],
    });
    owners.set(department, { access: a, until: t + OWNER_ACCESS_MS });
    return a;
  };
  // A group's apikey writes with its owner's rights: only the owner, the departments above it,
  // and a department that may write everything anyway (the city's) see and change it.
  const manages = async (owner: string | undefined): Promise<boolean> => {
    const a = access.current();
    const dept = a?.principal.department;
    if (!a || !dept) return false;
    if (owner === undefined || (await access.departmentSubtree(dept)).includes(owner)) return true;
    return (await a.policies()).some(
      (p) =>
        p.actions.includes('write') &&
        p.tenant === '*' &&
        p.entityTypes.includes('*') &&
        p.attrs === undefined &&
        p.area === undefined,
    );
  };
  return {
    provisioner: () => access.current()?.principal.department,
    async mayView(tenant, owner, typeIri) {
      if (await manages(owner)) return 'manage';
      const a = access.current();
      if (!a) return 'none';
      const f = await a.filter(tenant);
      return f.readableTypes === '*' || f.readableTypes.includes(typeIri) ? 'view' : 'none';
    },
    async mayProvision(tenant, owner, typeIri, entityId) {
      const a = access.current();
      if (!a) throw new HubError('Forbidden', 'Provisioning devices needs an account');
      if (!(await manages(owner))) {
        access.denied(a.principal.name, { tenant, owner, action: 'iot.provision' });
        throw new HubError('Forbidden', `These devices belong to department ${owner ?? ''}`);
      }
      const existing = entityId === undefined ? undefined : await readEntity(tenant, entityId);
      const types = [...new Set([typeIri, ...(existing?.types ?? [])])];
      const entity = { types, ...(existing ? { before: existing, after: existing } : {}) };
      if (!canWrite(await a.policies(), tenant, entity, [])) {
        access.denied(a.principal.name, { tenant, type: typeIri, entity: entityId });
        throw new HubError(
          'Forbidden',
          existing
            ? `Your department may not write entity ${entityId}, which these devices would write`
            : `Your department may not write entities of type ${typeIri}, which these devices would write`,
        );
      }
    },
    actAs(owner, what, fn) {
      if (owner === undefined)
        return Promise.reject(
          new HubError(
            'Forbidden',
            `${what} belongs to no department: provision its config group again with an account of the department whose data it writes`,
          ),
        );
      return access.runAs(ownerAccess(owner), fn);
    },
  };
}

/**
 * Who may use the embedded MQTT broker: devices with credentials (checked by the gateway),
 * systems with a hub API key publishing for what their department may write, and anonymous
 * clients only when `anonymous` is set. Area-limited write policies do not count for a gateway:
 * where a reading's entity lies is not known before it is written.
 */
export function mqttAuthority(access: AccessPort, anonymous: boolean): MqttAuthority {
  return {
    anonymous,
    gateway: (apiKey: string): Promise<MqttPrincipal | undefined> => access.principalOfApiKey(apiKey),
    async mayWrite(p: MqttPrincipal, tenant: string, typeIri?: string): Promise<boolean> {
      const policies = (await access.policiesOf(p as Principal)).filter((x) => x.area === undefined);
      return typeIri === undefined
        ? canWriteTenant(policies, tenant)
        : canWrite(policies, tenant, { types: [typeIri] }, []);
    },
    refused(e): void {
      access.denied(e.who, { action: e.action, reason: e.reason });
      access.auditLater({
        actor: e.who,
        action: e.action,
        target: 'mqtt',
        outcome: 'failure',
        ...(e.ip ? { ip: e.ip } : {}),
        detail: { reason: e.reason },
      });
    },
  };
}
