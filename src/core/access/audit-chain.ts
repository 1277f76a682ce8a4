/**
 * The audit log's hash chain: each record carries the hash of the one before, so that changing
 * or deleting a record breaks every link after it (GB/T 22239 §8.1.4.3: protect audit records
 * from unexpected deletion, modification or overwriting). SHA-256 over a canonical JSON text.
 */
import { createHash } from 'node:crypto';

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** What is recorded: who, when, what, on what, with which result and purpose. */
export interface AuditEvent {
  /** User name, API key name or external subject; 'system' for the hub itself. */
  actor: string;
  department?: string;
  /** e.g. login, user.create, policy.delete, grant.approve, read.personal. */
  action: string;
  target?: string;
  outcome: AuditOutcome;
  purpose?: string;
  /** Client address. */
  ip?: string;
  detail?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEvent {
  seq: number;
  at: string;
  prevHash: string;
  hash: string;
}

/** The hash before the first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted, so that the hash does not depend on member order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The hash of a record: SHA-256 of the previous hash and the canonical record without its hash. */
export function auditHash(r: Omit<AuditRecord, 'hash'> & { hash?: string }): string {
  const { prevHash, hash: _own, ...rest } = r;
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(rest)).digest('hex');
}

export interface ChainCheck {
  ok: boolean;
  checked: number;
  /** The first broken record and why. */
  firstBad?: { seq: number; problem: 'edited' | 'missing-before' | 'relinked' };
  lastHash: string;
}

/**
 * Verifies records in seq order, continuing a chain that ended at `prevHash`/`prevSeq`. A changed
 * record fails its own hash; a deleted one leaves a gap in seq; a record re-linked to hide a
 * deletion fails the link to the previous hash.
 */
export function verifyChain(
  records: AuditRecord[],
  start: { prevHash: string; prevSeq: number } = { prevHash: GENESIS_HASH, prevSeq: 0 },
): ChainCheck {
  let prevHash = start.prevHash;
  let prevSeq = start.prevSeq;
  let checked = 0;
  for (const r of records) {
    if (r.seq !== prevSeq + 1)
      return { ok: false, checked, firstBad: { seq: r.seq, problem: 'missing-before' }, lastHash: prevHash };
    if (r.prevHash !== prevHash)
      return { ok: false, checked, firstBad: { seq: r.seq, problem: 'relinked' }, lastHash: prevHash };
    if (auditHash(r) !== r.hash)
      return { ok: false, checked, firstBad: { seq: r.seq, problem: 'edited' }, lastHash: prevHash };
    prevHash = r.hash;
    prevSeq = r.seq;
    checked++;
  }
  return { ok: true, checked, lastHash: prevHash };
}
