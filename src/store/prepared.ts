/**
 * Prepared statements for the write path. A statement whose text is marked with `hot()` is sent
 * as a named (prepared) statement, so PostgreSQL parses and plans it once per connection instead
 * of on every write: an entity write runs about eight statements, and planning them was a large
 * part of the database's work per PATCH (the update benchmark went from about 500 to about 670
 * writes/s). Only texts that never change are marked: a text built per query (q filters, geo) would
 * leave a prepared statement behind per connection for every shape it ever took.
 */
import { createHash } from 'node:crypto';

const names = new Map<string, string>();

/** Marks a constant statement text as worth preparing; returns it unchanged. */
export function hot(sql: string): string {
  if (!names.has(sql)) names.set(sql, `cp_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`);
  return sql;
}

/** The query config for node-postgres: named when the text was marked. */
export function queryConfig(
  sql: string,
  values: unknown[],
): { text: string; values: unknown[]; name?: string } {
  const name = names.get(sql);
  return name ? { name, text: sql, values } : { text: sql, values };
}
