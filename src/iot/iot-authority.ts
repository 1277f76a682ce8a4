/**
 * What the IoT edge asks the access layer (with authentication on): who provisions, whether they
 * may, and with whose rights a device writes. Devices hold no account of their own: a config
 * group (or a device provisioned without one) belongs to the department of the account that
 * provisioned it, and everything its devices send (readings, automatically provisioned entities,
 * command results) is written with that department's rights, checked on every write like any
 * other writer's. Knowing a group's apikey lets a device write as the group, never more.
 * Without an authority (authentication off) nothing is checked and nothing is owned.
 */
export interface IotAuthority {
  /** The department of the account provisioning now, recorded as the owner of what it creates. */
  provisioner(): string | undefined;
  /**
   * Refuses (HubError Forbidden) unless the account provisioning now may manage devices owned by
   * `owner` (its department or one below it; undefined: nobody owns them yet) that write entities
   * of type `typeIri` in `tenant`, and, when `entityId` names an entity that exists, may write
   * that entity (every type it has, in its area).
   */
  mayProvision(tenant: string, owner: string | undefined, typeIri: string, entityId?: string): Promise<void>;
  /**
   * What the account asking now may see of a group or device owned by `owner` whose devices
   * write entities of type `typeIri` in `tenant`: `manage` (all of it: it may change it),
   * `view` (all but its apikey, which lets a device write in the owner's name: the operations
   * centre watching devices of types it reads), or `none`.
   */
  mayView(tenant: string, owner: string | undefined, typeIri: string): Promise<'manage' | 'view' | 'none'>;
  /**
   * Runs `fn` with the rights of the department `owner`: every write it makes is checked against
   * that department's policies. No owner: refused (HubError Forbidden), nothing runs.
   */
  actAs<T>(owner: string | undefined, what: string, fn: () => Promise<T>): Promise<T>;
}
