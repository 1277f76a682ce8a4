/**
 * The audit log's chain, for whoever checks it (GET /api/v1/audit/verify, `citypivot audit
 * verify`): staged write records moved into the chain, then the whole chain walked in pages.
 */
import { verifyChain, type ChainCheck } from '../core/access/audit-chain.js';
import type { AccessStore } from '../core/access/access-store.js';

/** Moves every staged write record into the chain. */
export async function flushStagedAudit(store: AccessStore): Promise<void> {
  const page = 1000;
  while ((await store.audit.chainStaged(page)) === page);
}

/** Walks the whole chain in pages. */
export async function verifyAuditLog(store: AccessStore): Promise<ChainCheck> {
  await flushStagedAudit(store);
  let start = { prevHash: '0'.repeat(64), prevSeq: 0 };
  let checked = 0;
  for await (const page of store.audit.scan()) {
    const r = verifyChain(page, start);
    checked += r.checked;
    if (!r.ok) return { ...r, checked };
    const last = page[page.length - 1];
    if (last) start = { prevHash: last.hash, prevSeq: last.seq };
  }
  return { ok: true, checked, lastHash: start.prevHash };
}
