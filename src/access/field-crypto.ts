/**
 * Encryption at rest of sensitive personal values (PIPL Art.51, GB/T 35273 §6.3, GB/T 22239
 * §8.1.4.8): AES-256-GCM per attribute instance, with a random 96-bit IV and the entity id and
 * attribute IRI as associated data (a ciphertext moved to another entity or attribute fails to
 * decrypt). The key never enters the database: it comes from CITYPIVOT_DATA_KEY or a key file.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoredAttribute } from '../core/entity-model.js';

export const ENCRYPTED_PREFIX = 'cpenc:v1:';

/** The members that hold an instance's value (whichever its kind uses), encrypted together. */
const VALUE_MEMBERS = [
  'value',
  'object',
  'objectType',
  'languageMap',
  'languageValues',
  'vocab',
  'json',
  'valueList',
  'objectList',
] as const;

export interface FieldCrypto {
  /** A short fingerprint of the key (HMAC of a constant), stored to detect a wrong key at start. */
  readonly fingerprint: string;
  encrypt(inst: StoredAttribute, aad: string): StoredAttribute;
  /** Decrypts an encrypted instance; other instances come back unchanged. */
  decrypt(inst: StoredAttribute, aad: string): StoredAttribute;
  isEncrypted(inst: StoredAttribute): boolean;
}

/** Parses a 32-byte key given as 64 hex digits or base64. */
export function parseDataKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32) throw new Error('The data key must be 32 bytes: 64 hex digits or base64');
  return key;
}

/**
 * The data key: CITYPIVOT_DATA_KEY if set, else the key file (created with a random key, mode
 * 0600, on first start). Default file: `<data dir>.key` next to an embedded database directory.
 */
export async function loadDataKey(opts: {
  env?: string | undefined;
  file: string;
  log?: (l: string) => void;
}): Promise<Buffer> {
  if (opts.env !== undefined && opts.env !== '') return parseDataKey(opts.env);
  try {
    return parseDataKey(await readFile(opts.file, 'utf8'));
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32);
  await mkdir(dirname(opts.file), { recursive: true });
  await writeFile(opts.file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(opts.file, 0o600);
  opts.log?.(`Generated the data encryption key in ${opts.file}: back it up apart from the database`);
  return key;
}

export function createFieldCrypto(key: Buffer): FieldCrypto {
  if (key.length !== 32) throw new Error('AES-256 needs a 32-byte key');
  const fingerprint = createHmac('sha256', key).update('citypivot data key check').digest('hex').slice(0, 16);
  return {
    fingerprint,
    isEncrypted: (inst) => typeof inst.value === 'string' && inst.value.startsWith(ENCRYPTED_PREFIX),
    encrypt(inst, aad) {
      if (this.isEncrypted(inst)) return inst;
      const plain: Record<string, unknown> = {};
      const out: Record<string, unknown> = { ...inst };
      for (const m of VALUE_MEMBERS) {
        if (m in inst) {
          plain[m] = inst[m];
          delete out[m];
        }
      }
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(Buffer.from(aad));
      const ct = Buffer.concat([c.update(JSON.stringify(plain), 'utf8'), c.final()]);
      out.value = `${ENCRYPTED_PREFIX}${Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64')}`;
      return out as unknown as StoredAttribute;
    },
    decrypt(inst, aad) {
      if (!this.isEncrypted(inst)) return inst;
      const raw = Buffer.from((inst.value as string).slice(ENCRYPTED_PREFIX.length), 'base64');
      const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(aad));
      d.setAuthTag(raw.subarray(12, 28));
      const plain = JSON.parse(
        Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8'),
      ) as Record<string, unknown>;
      const { value: _v, ...rest } = inst;
      return { ...rest, ...plain };
    },
  };
}
