/**
 * Device credentials: the secret a device presents, with its device id as user name, when it
 * connects to the embedded MQTT broker. Secrets are tokens of at least 16 characters (the hub
 * generates 32 random bytes), not human passwords, so a salted SHA-256 keeps them safe at rest
 * and lets a broker check thousands of connections a second after a restart (a slow password
 * hash would take minutes for a city's devices reconnecting at once). Only the hash is stored.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { badRequest } from '../core/errors.js';

export const MIN_SECRET_LENGTH = 16;
const MAX_SECRET_LENGTH = 256;

/** A new random secret, shown once to whoever provisions the device. */
export function newDeviceSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Checks a secret given in provisioning; `where` names it in the error. */
export function checkDeviceSecret(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH || value.length > MAX_SECRET_LENGTH)
    throw badRequest(
      `${where}: password must be a string of ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} characters (a device token, not a word)`,
    );
  if (/\s/.test(value)) throw badRequest(`${where}: password may not hold white space`);
  return value;
}

/** The stored form: `s256$<salt>$<hash>`. */
export function hashDeviceSecret(secret: string): string {
  const salt = randomBytes(16).toString('base64url');
  return `s256$${salt}$${digest(salt, secret)}`;
}

export function deviceSecretMatches(secret: string, stored: string): boolean {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 's256' || salt === undefined || hash === undefined) return false;
  const a = Buffer.from(digest(salt, secret), 'hex');
  const b = Buffer.from(hash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

function digest(salt: string, secret: string): string {
  return createHash('sha256').update(salt).update('\u0000').update(secret).digest('hex');
}
