/**
 * Database errors as hub errors: the SQLSTATE of a PostgreSQL error (or the code of a failed
 * connection) turned into the HubError the API answers with. The adapters translate what their
 * statements throw; the HTTP edge (server/http-app.ts) turns a database error that reached it by
 * another path into the right status with `databaseHubError`, without importing the driver.
 */
import pg from 'pg';
import { HubError } from '../core/errors.js';

/** The HubError of a PostgreSQL error whose SQLSTATE the hub knows; undefined for anything else. */
export function databaseHubError(err: unknown): HubError | undefined {
  if (!(err instanceof pg.DatabaseError)) return undefined;
  const t = translate(err);
  return t instanceof HubError ? t : undefined;
}

/** SQLSTATE → hub error (STYLE.md 6); the database error stays as `cause`. */
export function translate(err: unknown): unknown {
  if (err instanceof HubError) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return err;
  const msg = (err as Error).message;
  switch (code) {
    case '23505':
      return new HubError('AlreadyExists', 'An entity with this id already exists', { cause: err });
    case '40P01':
    case '40001':
      return new HubError('Conflict', 'A concurrent change got in the way; try again', { cause: err });
    case '22021':
    case '22P05':
      return new HubError('BadRequestData', 'Text with a NUL character (U+0000) cannot be stored', {
        cause: err,
      });
    case '22003':
      return new HubError('BadRequestData', `A number is out of range: ${msg}`, { cause: err });
    case '2201B':
      return new HubError('InvalidRequest', `Invalid regular expression: ${msg}`, { cause: err });
    case '22P02':
    case '22023':
    case '2203A':
    case '2203B':
    case '2203C':
    case '2203D':
    case '2203E':
    case '2203F':
    case '22030':
    case '22031':
    case '22032':
    case '22033':
    case '22034':
    case '22035':
    case '22036':
    case '22037':
    case '22038':
    case '22039':
    case '42601':
      return new HubError('InvalidRequest', `Invalid query: ${msg}`, { cause: err });
    case '57014':
      return new HubError('TooComplexQuery', 'The query took too long', { cause: err });
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ETIMEDOUT':
    case 'EPIPE':
    case '53300':
    case '57P01':
    case '57P03':
    case '08006':
    case '08001':
      return new HubError('ServiceUnavailable', 'The database is not available', { cause: err });
    default:
      // The rest of class 22 (data exception: a date out of range, a bad time zone, a string too
      // long…) is a value the request brought that the database cannot take.
      if (code.startsWith('22'))
        return new HubError('BadRequestData', `A value cannot be stored or compared: ${msg}`, {
          cause: err,
        });
      return err;
  }
}
