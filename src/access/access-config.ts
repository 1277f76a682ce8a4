/**
 * From the hub's configuration to the access layer's options: the data key (CITYPIVOT_DATA_KEY,
 * or a key file kept outside the database), the bootstrap admin password, the OIDC provider.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { AccessStore } from '../core/access/access-store.js';
import type { AccessOptions } from './access-setup.js';
import { loadDataKey } from './field-crypto.js';
import type { OidcSetting } from './token-service.js';

export interface HubAuthConfig {
  oidc?: OidcSetting;
  /** Default: CITYPIVOT_ADMIN_PASSWORD, else generated and printed once. */
  adminPassword?: string;
  /** Default: CITYPIVOT_DATA_KEY, else the key file. */
  dataKey?: string;
  /** Default: CITYPIVOT_DATA_KEY_FILE, else `<db dir>.key` for an embedded database, ./citypivot-data.key otherwise. */
  dataKeyFile?: string;
  /** Default true; CITYPIVOT_ADMIN_TOTP=off turns it off (demos only). */
  adminTotp?: boolean;
}

/** The key file next to the data: `./data` → `./data.key`, never inside the database directory. */
export function defaultKeyFile(db: string): string | undefined {
  if (db.startsWith('memory:')) return undefined;
  if (/^postgres(ql)?:\/\//.test(db)) return resolve('citypivot-data.key');
  return `${resolve(db)}.key`;
}

export async function hubAccessOptions(
  cfg: HubAuthConfig,
  store: AccessStore,
  db: string,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AccessOptions> {
  const keyText = cfg.dataKey ?? env.CITYPIVOT_DATA_KEY;
  const file = cfg.dataKeyFile ?? env.CITYPIVOT_DATA_KEY_FILE ?? defaultKeyFile(db);
  const dataKey =
    keyText === undefined && file === undefined
      ? randomBytes(32) // memory:// — the data goes with the process, so may the key
      : await loadDataKey({ env: keyText, file: file ?? '', log });
  const adminPassword = cfg.adminPassword ?? env.CITYPIVOT_ADMIN_PASSWORD;
  const totpEnv = (env.CITYPIVOT_ADMIN_TOTP ?? '').toLowerCase();
  return {
    store,
    dataKey,
    ...(cfg.oidc ? { oidc: cfg.oidc } : {}),
    ...(adminPassword ? { adminPassword } : {}),
    adminTotp: cfg.adminTotp ?? !['off', 'false', '0', 'no'].includes(totpEnv),
    log,
  };
}
